"""Input and output tokens from the resolved token source (transactions or messages)."""

from __future__ import annotations

from collections.abc import Iterator

from ..groups import Tallies, Usage
from ..jobs import USAGE
from .base import Family, M, Samples, add_up, model_of, sourced


def tokens(usage: Usage, kind: str, recent: bool, by_model: bool) -> Samples:
    """Input ("prompt") or output ("completion") tokens from the resolved token source."""
    tallies: Tallies = usage.recent if recent else usage.total
    if usage.token_source == "transactions":
        pairs: Iterator[tuple[tuple[str, ...], float]] = (
            ((model_of(usage, k.model),), v) for k, v in tallies.transactions.tokens.items() if k.kind == kind
        )
    elif kind == "completion" or not by_model:
        assistant = kind == "completion"
        pairs = (
            ((model_of(usage, k),), v) for k, v in tallies.messages.tokens.items() if k.assistant == assistant
        )
    else:
        pairs = (((model_of(usage, m),), v) for m, v in (tallies.inputs or {}).items())
    if not by_model:
        pairs = (((), v) for _, v in pairs)
    return add_up(pairs, labelled=by_model)


FAMILIES: tuple[Family, ...] = sourced(
    (
        Family(
            "librechat_input_tokens_total",
            "counter",
            "Number of input tokens processed",
            (),
            ("token",),
            USAGE,
            lambda u: tokens(u, "prompt", False, False),
        ),
        Family(
            "librechat_output_tokens_total",
            "counter",
            "Total number of output tokens generated",
            (),
            ("token",),
            USAGE,
            lambda u: tokens(u, "completion", False, False),
        ),
        Family(
            "librechat_input_tokens_per_model_total",
            "counter",
            "Number of input tokens per model",
            M,
            ("model", "token"),
            USAGE,
            lambda u: tokens(u, "prompt", False, True),
        ),
        Family(
            "librechat_output_tokens_per_model_total",
            "counter",
            "Number of output tokens per model",
            M,
            ("model", "token"),
            USAGE,
            lambda u: tokens(u, "completion", False, True),
        ),
        Family(
            "librechat_input_tokens_5m",
            "gauge",
            "Number of input tokens used in the last 5 minutes",
            (),
            ("time_window", "token"),
            USAGE,
            lambda u: tokens(u, "prompt", True, False),
        ),
        Family(
            "librechat_output_tokens_5m",
            "gauge",
            "Number of output tokens generated in the last 5 minutes",
            (),
            ("time_window", "token"),
            USAGE,
            lambda u: tokens(u, "completion", True, False),
        ),
        Family(
            "librechat_model_input_tokens_5m",
            "gauge",
            "Input tokens per model in the last 5 minutes",
            M,
            ("time_window", "token"),
            USAGE,
            lambda u: tokens(u, "prompt", True, True),
        ),
        Family(
            "librechat_model_output_tokens_5m",
            "gauge",
            "Output tokens per model in the last 5 minutes",
            M,
            ("time_window", "token"),
            USAGE,
            lambda u: tokens(u, "completion", True, True),
        ),
    ),
    "transactions, or messages (`TOKEN_SOURCE`)",
)
