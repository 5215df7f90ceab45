"""``python -m bench [--quick] [--only NAME ...]``: run benchmarks, one JSON line each."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHES = (
    "pipeline",
    "freshness",
    "replay",
    "query",
    "jira_backfill",
    "zendesk_history",
    "durable_log",
    "dashboard",
    "themes",
    "scale",
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (under 3 minutes)")
    parser.add_argument("--only", nargs="*", choices=BENCHES, help="run just these")
    args = parser.parse_args()
    from core.logging import configure_logging

    configure_logging("console", "warning")
    for name in args.only or BENCHES:
        module = importlib.import_module(f"bench.{name}")
        for result in module.run(args.quick):
            print(result.line(), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
