"""End to end: metrics.py as a process against mongoeco, every sample equal to the oracle."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from librechat_metrics.synthetic import PROFILES, generate, malformed_corpus
from tests.support.compare import assert_samples_equal, expected
from tests.support.exporter import scrape_once
from tests.support.mongo import start_mongoeco

DATA = Path(__file__).parent / "data"
ZONES = ("UTC", "Europe/Berlin")


def seed_contract() -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, ...]]]:
    """TYPE, HELP and label names of every family, from the seed README and the original's later code."""
    types, helps, labels = {}, {}, {}
    for line in (DATA / "seed_contract.txt").read_text().splitlines():
        if not line.startswith("# "):
            continue  # a sample line of the seed's example output
        kind, name, rest = line[2:6], *line[7:].split(" ", 1)
        (types if kind == "TYPE" else helps)[name] = rest
    for line in (DATA / "later_contract.txt").read_text().splitlines():
        if line.startswith("#"):
            continue
        name, kind, *names = line.split(" ")
        types[name] = kind
        labels[name] = tuple(n for n in (names[0].split(",") if names else []) if n)
    return types, helps, labels


@pytest.fixture(scope="module", params=[*PROFILES, "mixed"])
def served(request):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    profile = "v0.8.7" if request.param == "mixed" else request.param
    collections = generate(profile=profile, seed=7, n_messages=1200, now=now, zones=ZONES).collections
    if request.param == "mixed":
        for name, docs in malformed_corpus(now, seed=3).items():
            collections.setdefault(name, []).extend(docs)
    server = start_mongoeco(collections)
    yield request.param, collections, now, server
    server.stop()


@pytest.mark.parametrize("zone", ZONES)
def test_every_sample_equals_the_oracle(served, zone):
    _, collections, _, server = served
    page, log = scrape_once(server.uri, {"TIMEZONE": zone})
    assert_samples_equal(page.librechat(), expected(collections, page, zone))
    assert "Traceback" not in log


def test_type_help_and_labels_follow_the_contract(served):
    _, _, _, server = served
    page, _ = scrape_once(server.uri)
    types, helps, labels = seed_contract()
    for family, kind in types.items():
        exposed = family[: -len("_total")] if kind == "counter" and family.endswith("_total") else family
        assert page.types.get(family, page.types.get(exposed)) == kind, family
        if family in helps:
            assert page.helps.get(family, page.helps.get(exposed)) == helps[family], family
    seed_labels = {
        m.group(1): tuple(re.findall(r'(\w+)="', m.group(2)))
        for m in re.finditer(r"^(librechat_\w+)\{(.*)\}", (DATA / "seed_contract.txt").read_text(), re.M)
    }
    for family, names in {**seed_labels, **labels}.items():
        for key in page.samples.get(family, {}):
            assert tuple(k for k, _ in key) == tuple(sorted(names)), family


def test_promtool_accepts_the_exposition(served):
    _, _, _, server = served
    page, _ = scrape_once(server.uri)
    result = subprocess.run(["promtool", "check", "metrics"], input=page.text, capture_output=True, text=True)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    # The seed contract names some gauges *_total; promtool warns about exactly those and nothing else.
    allowed = re.compile(r"^librechat_\w+_total non-counter metrics should not have \"_total\" suffix$")
    assert all(allowed.match(p) for p in problems), problems
