"""`export_metrics.py --report START END`: one range's numbers from MongoDB, in five formats."""
