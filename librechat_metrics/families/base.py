"""The Family declaration and the helpers the family modules share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..groups import Usage
from ..labels import resolve_agent, sanitise
from ..tally import MessageKey, ToolKey

Samples = dict[tuple[str, ...], float]

M = ("model",)  # the most common label tuple
TRANSACTIONS = "transactions"  # the source of the ledger families


@dataclass(frozen=True)
class Family:
    """One metric family: name, type, HELP, labels, toggles, the job it reads, and its value function.

    `value` receives the result of its job and returns {label values: number}; `source` is what the
    docs say it is computed from (default: its job's `source`)."""

    name: str
    kind: str  # "counter", "gauge" or "histogram" (value: {labels: responses.WaitHistogram})
    help: str
    labels: tuple[str, ...]
    toggles: tuple[str, ...]
    job: str  # the name of the job whose result `value` reads (jobs.JOBS)
    value: Callable[[Any], Mapping[tuple[str, ...], Any]]  # numbers, or WaitHistograms for a histogram
    additive: bool = True  # False for ratios: capped series are dropped, not summed into "other"
    source: str | None = None


def sourced(families: tuple[Family, ...], source: str) -> tuple[Family, ...]:
    """`families` with `source` wherever a family does not name its own."""
    return tuple(f if f.source is not None else replace(f, source=source) for f in families)


def add_up(pairs: Iterable[tuple[tuple[str, ...], float]], labelled: bool = True) -> Samples:
    """Sum values per sanitised label set; unlabelled families always get their one sample."""
    out: dict[tuple[str, ...], float] = {}
    for key, value in pairs:
        labels = tuple(sanitise(k) for k in key) if labelled else ()
        out[labels] = out.get(labels, 0.0) + value
    if not labelled:
        return {(): float(out.get((), 0))}
    return {key: float(v) for key, v in out.items() if v != 0}


def model_of(usage: Usage, model: str | MessageKey | ToolKey) -> str:
    """A model label with agent ids resolved to the agent's model; of a message's or tool call's key,
    the model that produced it (`made_by`) when known (docs: "Labels", model)."""
    if not isinstance(model, str):
        model = model.made_by or model.model
    return resolve_agent(model, usage.agents)


def one(value: float) -> Samples:
    return {(): float(value)}
