"""Run the history export from this folder: `python export_metrics.py START END` (see ../docs/history.md)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from librechat_metrics.history.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
