"""librechat-metrics: a Prometheus exporter and a history export for LibreChat's MongoDB."""

__version__ = "1.0.0"
