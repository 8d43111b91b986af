"""The demo's settings and requirements; importable without mongoeco."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

DEFAULT_DB = "LibreChat"
# LibreChat's stock single-field indexes (messages.createdAt, messageId, conversationId, user; conversations)
INDEXES = {"messages": ("createdAt", "messageId", "conversationId", "user"), "conversations": ("createdAt",)}
DEFAULT_PACE = 20.0  # messages a minute
INSTALL = "pip install -r requirements-demo.txt (mongoeco, Python 3.13 or newer)"


def pace_setting(environ: Mapping[str, str] | None = None) -> float:
    """DEMO_PACE: live messages a minute (0 = no live writes); ValueError naming the variable when bad."""
    raw = (os.environ if environ is None else environ).get("DEMO_PACE", str(DEFAULT_PACE))
    try:
        pace = float(raw)
    except ValueError:
        pace = -1.0
    if not 0 <= pace <= 6000:
        raise ValueError(f"DEMO_PACE={raw!r}: expected messages per minute from 0 to 6000")
    return pace


def unavailable() -> str | None:
    """Why the embedded database cannot run here (what to install), or None when it can."""
    if sys.version_info < (3, 13):
        return f"--demo needs Python 3.13 or newer (this is {sys.version.split()[0]}) and mongoeco: {INSTALL}"
    try:
        import mongoeco  # noqa: F401
    except ImportError:
        return f"--demo needs mongoeco, which is not installed: {INSTALL}"
    return None
