"""Logging: the project's own lines at LOGGING_LEVEL; the MongoDB driver's only with LOGGING_DRIVER,
and never with document contents (what a query sent or MongoDB answered holds ids, e-mails, names)."""

from __future__ import annotations

import logging

DRIVER = "pymongo"
# The fields of pymongo's structured log messages that hold documents: the command as sent (filters
# with ids), the reply (the documents read) and a failure's details.
DOCUMENTS = frozenset(("command", "reply", "failure"))
HIDDEN = "(driver message not shown: it may hold document contents)"


def without_documents(record: logging.LogRecord) -> bool:
    """Logging filter: a pymongo record loses its document fields (its other fields, such as the
    command name, database, duration and connection, stay); always lets the record through."""
    if not record.name.startswith(DRIVER) or isinstance(record.msg, str):
        return True
    fields = getattr(record.msg, "_kwargs", None)  # pymongo.logger.LogMessage
    if isinstance(fields, dict):
        record.msg = type(record.msg)(**{k: v for k, v in fields.items() if k not in DOCUMENTS})
    else:
        record.msg, record.args = HIDDEN, ()
    return True


def configure(level: str, fmt: str, driver: bool) -> None:
    """Log to stderr at `level`; pymongo's loggers stay at WARNING unless `driver`."""
    logging.basicConfig(level=level, format=fmt)
    logging.getLogger(DRIVER).setLevel(logging.NOTSET if driver else logging.WARNING)
    for handler in logging.getLogger().handlers:
        if without_documents not in handler.filters:
            handler.addFilter(without_documents)
