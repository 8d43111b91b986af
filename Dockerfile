# librechat-metrics: the exporter as a sidecar next to LibreChat's mongodb service.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin exporter

COPY metrics.py export_metrics.py ./
COPY librechat_metrics ./librechat_metrics

USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-m", "librechat_metrics.healthcheck"]
CMD ["python", "metrics.py"]
