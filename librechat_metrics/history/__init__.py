"""History export: daily, weekly and monthly aggregates from MongoDB into MariaDB/MySQL or PostgreSQL.

`cli` is the command line, `compute` builds rows from the exporter's tallies, `queries` holds the
few MongoDB lookups only the export needs, `sql` owns the tables and the writers.
"""
