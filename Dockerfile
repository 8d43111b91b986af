# librechat-metrics: the exporter (metrics.py) and the history export (export_metrics.py) in one image.
#
#   docker build -t librechat-metrics .
#   docker run -e MONGODB_URI=mongodb://mongodb:27017/ -p 8000:8000 librechat-metrics
#
# BASE_IMAGE is any image with Python 3.11+ as `python3` (with the venv module). The default is the
# public image by exact tag; scripts/docker_check.sh builds on a locally bootstrapped Debian 13 instead
# (`--build-arg BASE_IMAGE=...`), where Docker Hub cannot be reached.
ARG BASE_IMAGE=python:3.13.9-slim-trixie

# Stage 1: the dependencies in a virtualenv (wheels only: no compiler needed), pip removed afterwards.
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
# tzdata: IANA zones from PyPI, including the legacy names (US/Eastern) that Debian 13 moved out of its
# tzdata package; zoneinfo falls back to it for any TIMEZONE the base image's files lack.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --only-binary=:all: -r /tmp/requirements.txt tzdata==2026.6 \
    && /opt/venv/bin/pip uninstall -y pip \
    && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +

# Stage 2: the runtime, without build leftovers.
FROM ${BASE_IMAGE}
ARG BASE_IMAGE
ARG VERSION=1.0.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="librechat-metrics" \
      org.opencontainers.image.description="Prometheus exporter and history export for LibreChat's MongoDB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

RUN groupadd --system --gid 10001 exporter \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin exporter
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY metrics.py export_metrics.py ./
COPY librechat_metrics ./librechat_metrics

ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8000
# /healthz answers while the process serves (over TLS too when WEB_CONFIG_FILE enables it).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-m", "librechat_metrics.healthcheck"]
CMD ["python", "metrics.py"]
