"""History export for LibreChat's MongoDB into SQL: `python export_metrics.py --help`."""

from librechat_metrics.history.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
