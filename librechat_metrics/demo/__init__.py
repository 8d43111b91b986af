"""Demo mode: synthetic LibreChat data in an embedded or a real MongoDB (see README's Quick start).

- `python metrics.py --demo` and `python export_metrics.py --demo START END` (hooks.py) run on an
  embedded mongoeco database (embedded.py) seeded with the generator's history (activity.py) and, for
  the exporter, written to live (live.py).
- `python -m librechat_metrics.demo --into URI [--weeks N] [--live]` (seed.py) does the same for a real
  MongoDB, refusing databases that hold data it did not write.
"""
