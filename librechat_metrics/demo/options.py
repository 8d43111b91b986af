"""The demo's settings and requirements; importable without mongoeco."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

DEFAULT_DB = "LibreChat"
# LibreChat's stock single-field indexes (messages.createdAt, messageId, conversationId, user; conversations)
INDEXES = {"messages": ("createdAt", "messageId", "conversationId", "user"), "conversations": ("createdAt",)}
# The demo's database also has the optional messages.updatedAt: it serves the 5-minute rating gauges.
DEMO_INDEXES = {**INDEXES, "messages": (*INDEXES["messages"], "updatedAt")}
DEFAULT_PACE = 20.0  # messages a minute
# The most the embedded database (mongoeco, in the exporter's process) keeps up with while the exporter
# reads it: bench/demo_pace.py (results in bench/results/demo_pace.json). Above it the writer falls
# behind, the exporter's queries are cancelled and memory grows.
MAX_PACE = 300.0
# A real MongoDB (python -m librechat_metrics.demo --into URI --live) takes more.
MAX_PACE_REAL = 6000.0
INSTALL = "pip install -r requirements-demo.txt (mongoeco, Python 3.13 or newer)"


def pace_setting(environ: Mapping[str, str] | None = None, limit: float = MAX_PACE) -> float:
    """DEMO_PACE: live messages a minute, 0 (no live writes) to `limit`; ValueError naming the variable
    and the bound when bad."""
    raw = (os.environ if environ is None else environ).get("DEMO_PACE", str(DEFAULT_PACE))
    try:
        pace = float(raw)
    except ValueError:
        pace = -1.0
    if not 0 <= pace <= limit:
        why = " (the most the embedded database keeps up with)" if limit == MAX_PACE else ""
        raise ValueError(f"DEMO_PACE={raw!r}: expected messages per minute from 0 to {limit:g}{why}")
    return pace


def pace_help() -> str:
    """The DEMO_PACE line of --help."""
    return f"DEMO_PACE: live messages a minute, 0 to {MAX_PACE:g} (default {DEFAULT_PACE:g})"


def unavailable() -> str | None:
    """Why the embedded database cannot run here (what to install), or None when it can."""
    if sys.version_info < (3, 13):
        return f"--demo needs Python 3.13 or newer (this is {sys.version.split()[0]}) and mongoeco: {INSTALL}"
    try:
        import mongoeco  # noqa: F401
    except ImportError:
        return f"--demo needs mongoeco, which is not installed: {INSTALL}"
    return None
