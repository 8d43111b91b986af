"""Prometheus exporter for LibreChat's MongoDB: `python metrics.py --help`."""

from librechat_metrics.entry import run

if __name__ == "__main__":
    raise SystemExit(run("metrics.py", "librechat_metrics.app"))
