"""Prometheus exporter for LibreChat's MongoDB: `python metrics.py --help`."""

from librechat_metrics.app import main

if __name__ == "__main__":
    raise SystemExit(main())
