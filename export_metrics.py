"""History export for LibreChat's MongoDB into SQL: `python export_metrics.py --help`."""

from librechat_metrics.entry import run

if __name__ == "__main__":
    raise SystemExit(run("export_metrics.py", "librechat_metrics.history.cli"))
