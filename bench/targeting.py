"""Targeting through the CLI: ``closedloop targeting propensity`` and ``closedloop targeting
recommend --evaluate`` on a fresh demo base (``closedloop seed demo``) in a SQLite file.

Each command runs in a subprocess; wall time and the figures it reports (AUC, hit-rate) are
printed as markdown rows, with the machine and its load average (the machine is shared).
Target: 1,000,000 persons, propensity in at most 2 minutes, recommendations in at most 5.
Usage::

    .venv/bin/python bench/targeting.py [--persons 20000] [--category books]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import machine

CL = str(Path(sys.executable).with_name("closedloop"))


def _timed(env: dict[str, str], *args: str) -> tuple[float, dict]:
    start = time.perf_counter()
    out = subprocess.run([CL, *args], env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, json.loads(out.stdout)


def main() -> None:
    """Seed a base, then time propensity, recommendations and clusters through the CLI."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--category", default="books")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CLOSEDLOOP_DATABASE_URL": f"sqlite:///{tmp}/bench.db"}
        subprocess.run([CL, "init"], env=env, check=True, capture_output=True)
        subprocess.run([CL, "seed", "demo", "--persons", str(args.persons), "--seed", "42"],
                       env=env, check=True, capture_output=True)  # fmt: skip
        print(machine())
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        print("| command | persons | wall s | result |\n|---|---:|---:|---|")
        wall, data = _timed(env, "targeting", "propensity", "--category", args.category,
                            "--json")  # fmt: skip
        print(f"| propensity --category {args.category} | {args.persons:,} | {wall:.1f} "
              f"| AUC {data['auc']:.3f}, "
              f"top-decile lift {data['lift_by_decile'][0]['lift']} |")  # fmt: skip
        wall, data = _timed(env, "targeting", "recommend", "--evaluate", "--json")
        print(f"| recommend --evaluate | {args.persons:,} | {wall:.1f} | hit@5 "
              f"{data['model']['hit_rate']:.3f} vs popularity "
              f"{data['popularity']['hit_rate']:.3f}, "
              f"MRR {data['model']['mrr']:.3f} vs {data['popularity']['mrr']:.3f} |")  # fmt: skip
        wall, data = _timed(env, "targeting", "clusters", "--json")
        print(f"| clusters | {args.persons:,} | {wall:.1f} | k={data['k']} |")
        print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
