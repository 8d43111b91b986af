"""Basic-auth timing: unknown user vs known user with a wrong password, against a web config whose
users have bcrypt cost --cost. Both should cost one bcrypt check at that cost.

    .venv/bin/python bench/auth_timing.py [--cost 10] [--tries 20]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bcrypt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from librechat_metrics.webconfig import load_web_config


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def median_ms(web: object, value: str, tries: int) -> float:
    times = []
    for _ in range(tries):
        started = time.perf_counter()
        assert not web.authorized(value)  # type: ignore[attr-defined]
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cost", type=int, default=10)
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=args.cost)).decode()
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as handle:
        handle.write(f"basic_auth_users:\n  alice: '{hashed}'\n")
        handle.flush()
        web = load_web_config(handle.name)
    unknown = median_ms(web, header("mallory", "wrong"), args.tries)
    known = median_ms(web, header("alice", "wrong"), args.tries)
    too_long = median_ms(web, header("alice", "x" * 100), args.tries)
    print(
        json.dumps(
            {
                **vars(args),
                "unknown_user_ms": unknown,
                "wrong_password_ms": known,
                "ratio": round(unknown / known, 2),
                "over_72_bytes_ms": too_long,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
