"""Deterministic synthetic LibreChat data (see generator.py) and a corpus of malformed documents."""

from .generator import COLLECTIONS, Dataset, generate
from .malformed import malformed_corpus
from .profiles import PROFILES

__all__ = ["COLLECTIONS", "PROFILES", "Dataset", "generate", "malformed_corpus"]
