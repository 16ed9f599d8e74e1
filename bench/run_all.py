"""Run every benchmark, small sizes with ``--quick`` (what `make bench` does), full otherwise.

Each script prints its own markdown table; the full-size figures, with the machine and date,
are kept in docs/benchmarks.md and the pages it links to.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

QUICK: list[list[str]] = [
    ["seed_demo.py", "--persons", "20000"],
    ["person_card.py", "--database-url", "sqlite:///bench/out/bench-quick.db",
     "--persons", "20000", "--requests", "50"],
    ["btyd.py", "--quick"],
    ["postal_lookup.py", "--lookups", "100000", "--checks", "100000", "--runs", "3"],
    ["dedupe_febrl.py", "--repeat", "1"],
    ["dedupe_online.py", "--n", "20000", "--checks", "200"],
    ["import_persons.py", "--rows", "50000"],
    ["scoring_run.py", "--persons", "20000", "--runs", "1"],
    ["send_email.py", "--persons", "5000", "--sink", "aiosmtpd"],
    ["cli_startup.py", "--runs", "5"],
]  # fmt: skip

FULL: list[list[str]] = [
    ["seed_demo.py"],
    ["person_card.py"],
    ["btyd.py"],
    ["postal_lookup.py"],
    ["dedupe_febrl.py"],
    ["dedupe_scale.py"],
    ["dedupe_online.py", "--n", "1000000"],
    ["import_persons.py"],
    ["scoring_run.py"],
    ["send_email.py", "--persons", "100000", "--sink", "aiosmtpd"],
    ["cli_startup.py"],
]


def main() -> int:
    """Run the benchmarks one after the other; report which failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes, not hours)")
    parser.add_argument("--only", help="run only scripts whose name contains this text")
    args = parser.parse_args()
    (HERE / "out").mkdir(exist_ok=True)
    failed = []
    for command in QUICK if args.quick else FULL:
        if args.only and args.only not in command[0]:
            continue
        print(f"\n## {' '.join(command)}\n", flush=True)
        if subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]]).returncode:
            failed.append(command[0])
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
