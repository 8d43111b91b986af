"""Thumbs up/down ratings and feedback tags."""

from __future__ import annotations

from ..groups import Usage
from ..jobs import RECENT_RATINGS, USAGE
from ..tally import MessageKey
from .base import Family, M, Samples, add_up, model_of, one


def rated(usage: Usage, rating: str | None, labels: str) -> Samples:
    """Rated messages, optionally of one rating, keyed by "" (none), "model", "tag" or "model,tag"."""

    def key(k: MessageKey) -> tuple[str, ...]:
        parts = {"model": model_of(usage, k), "tag": k.tag or ""}
        return tuple(parts[name] for name in labels.split(",") if name)

    wanted = [
        k
        for k in usage.total.messages.count
        if k.rating is not None and (rating is None or k.rating == rating)
    ]
    if "tag" in labels:
        wanted = [k for k in wanted if k.tag is not None]
    return add_up(((key(k), usage.total.messages.count[k]) for k in wanted), labelled=bool(labels))


def ratio(up: Samples, down: Samples) -> Samples:
    return {
        key: 100.0 * up.get(key, 0) / (up.get(key, 0) + down.get(key, 0))
        for key in set(up) | set(down)
        if up.get(key, 0) + down.get(key, 0) > 0
    }


FAMILIES: tuple[Family, ...] = (
    Family(
        "librechat_thumbs_up_total",
        "gauge",
        "Total number of thumbs up ratings",
        (),
        ("rating",),
        USAGE,
        lambda u: rated(u, "thumbsUp", ""),
    ),
    Family(
        "librechat_thumbs_down_total",
        "gauge",
        "Total number of thumbs down ratings",
        (),
        ("rating",),
        USAGE,
        lambda u: rated(u, "thumbsDown", ""),
    ),
    Family(
        "librechat_thumbs_up_per_model",
        "gauge",
        "Number of thumbs up ratings per model",
        M,
        ("rating",),
        USAGE,
        lambda u: rated(u, "thumbsUp", "model"),
    ),
    Family(
        "librechat_thumbs_down_per_model",
        "gauge",
        "Number of thumbs down ratings per model",
        M,
        ("rating",),
        USAGE,
        lambda u: rated(u, "thumbsDown", "model"),
    ),
    Family(
        "librechat_rating_ratio_per_model",
        "gauge",
        "Percentage of positive ratings per model (0-100)",
        M,
        ("rating",),
        USAGE,
        lambda u: ratio(rated(u, "thumbsUp", "model"), rated(u, "thumbsDown", "model")),
        additive=False,
    ),
    Family(
        "librechat_rating_counts_per_tag",
        "gauge",
        "Number of ratings per feedback tag",
        ("tag",),
        ("rating",),
        USAGE,
        lambda u: rated(u, None, "tag"),
    ),
    Family(
        "librechat_overall_rating_ratio",
        "gauge",
        "Overall percentage of positive ratings (0-100)",
        (),
        ("rating",),
        USAGE,
        lambda u: ratio(rated(u, "thumbsUp", ""), rated(u, "thumbsDown", "")),
        additive=False,
    ),
    Family(
        "librechat_thumbs_up_5m",
        "gauge",
        "Number of thumbs up ratings in the last 5 minutes",
        (),
        ("rating", "time_window"),
        RECENT_RATINGS,
        lambda r: one(r["thumbsUp"]),
    ),
    Family(
        "librechat_thumbs_down_5m",
        "gauge",
        "Number of thumbs down ratings in the last 5 minutes",
        (),
        ("rating", "time_window"),
        RECENT_RATINGS,
        lambda r: one(r["thumbsDown"]),
    ),
    Family(
        "librechat_rated_messages_total",
        "gauge",
        "Total number of messages that have ratings",
        (),
        ("rating",),
        USAGE,
        lambda u: rated(u, None, ""),
    ),
    Family(
        "librechat_model_tag_thumbs_up",
        "gauge",
        "Number of thumbs up ratings per model and tag combination",
        ("model", "tag"),
        ("rating",),
        USAGE,
        lambda u: rated(u, "thumbsUp", "model,tag"),
    ),
    Family(
        "librechat_model_tag_thumbs_down",
        "gauge",
        "Number of thumbs down ratings per model and tag combination",
        ("model", "tag"),
        ("rating",),
        USAGE,
        lambda u: rated(u, "thumbsDown", "model,tag"),
    ),
)
