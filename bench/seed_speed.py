"""Seconds to get a 20,000-message synthetic dataset served by mongoeco (target: under 60 s in total).

Generates the messages (profile v0.8.7, with their conversations, transactions, files, agents, users,
balances), writes the dump file, then starts scripts/mongoeco_server.py on it and waits until a
count over the wire answers with the right number. Exits 1 when the total is 60 s or more.

    .venv/bin/python bench/seed_speed.py [--messages 20000] [--profile v0.8.7]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from librechat_metrics.synthetic import generate  # noqa: E402
from librechat_metrics.synthetic.dump import write_dump  # noqa: E402
from tests.support.mongo import launch  # noqa: E402

LIMIT = 60.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--profile", default="v0.8.7")
    args = ap.parse_args()
    times: dict[str, float] = {}

    t = time.perf_counter()
    ds = generate(profile=args.profile, seed=1, n_messages=args.messages, now=datetime.now(timezone.utc))
    times["generate"] = time.perf_counter() - t
    counts = {name: len(docs) for name, docs in ds.collections.items()}

    with tempfile.TemporaryDirectory(prefix="seed-speed-") as tmp:
        dump = Path(tmp) / "dump.bson"
        t = time.perf_counter()
        write_dump(dump, ds.collections)
        times["dump"] = time.perf_counter() - t
        t = time.perf_counter()
        server = launch(dump, workdir=tmp)
        try:
            with server.client() as client:
                served = client["LibreChat"].messages.count_documents({})
            times["load_until_count"] = time.perf_counter() - t
        finally:
            server.stop()
    assert served == counts["messages"], (served, counts["messages"])
    total = sum(times.values())
    print(json.dumps({"documents": counts, "total_documents": sum(counts.values())}))
    for name, seconds in times.items():
        print(f"{name:>18}: {seconds:6.1f} s")
    print(f"{'total':>18}: {total:6.1f} s (limit {LIMIT:.0f} s)")
    return 0 if total < LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
