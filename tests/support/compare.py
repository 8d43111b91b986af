"""Compare a scraped page with the oracle, each family at the moment its group collected."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from librechat_metrics.families import FAMILIES
from tests.oracle import exporter_samples
from tests.support.exporter import Exposition

SUFFIXES = {"histogram": ("_bucket", "_sum", "_count")}  # the sample names of a histogram family
GROUP_OF = {
    family.name + suffix: family.job for family in FAMILIES for suffix in SUFFIXES.get(family.kind, ("",))
}


def as_of(page: Exposition, group: str) -> datetime:
    """When the group's last successful collection started (the time its data is as of)."""
    stamp = page.samples["librechat_exporter_last_success_timestamp_seconds"][(("group", group),)]
    return datetime.fromtimestamp(stamp, timezone.utc)


def expected(
    collections: dict,
    page: Exposition,
    zone: str,
    token_source: str = "auto",
    families: set[str] | None = None,
) -> dict:
    """The oracle's samples, each family evaluated at its own group's collection time."""
    cache: dict[datetime, dict] = {}
    out = {}
    for name, group in GROUP_OF.items():
        if name.startswith("librechat_exporter_") or (families is not None and name not in families):
            continue
        when = as_of(page, group)
        if when not in cache:
            cache[when] = exporter_samples(collections, when, zone, token_source)
        out[name] = cache[when][name]
    return out


def assert_samples_equal(got: dict, want: dict) -> None:
    """Equal families and samples; a family without samples shows only as HELP/TYPE lines."""
    want = {family: samples for family, samples in want.items() if samples}
    got = {family: samples for family, samples in got.items() if family in want or samples}
    missing, extra = set(want) - set(got), set(got) - set(want)
    assert not missing and not extra, f"families differ: missing {missing}, extra {extra}"
    for family, samples in want.items():
        assert set(got[family]) == set(samples), f"{family} label sets:\n got {got[family]}\nwant {samples}"
        for key, value in samples.items():
            ok = math.isclose(got[family][key], value, rel_tol=1e-9, abs_tol=1e-9)
            assert ok, f"{family}{dict(key)}: got {got[family][key]}, want {value}"
