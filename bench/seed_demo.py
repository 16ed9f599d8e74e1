"""``closedloop seed demo`` at scale: wall time and peak memory of the real command.

Each run starts ``closedloop seed demo --persons N --json`` in a subprocess on a fresh SQLite
file (or on the PostgreSQL database given with ``--database-url``, whose public schema is
dropped first only with ``--reset``), polls the resident memory of the command and of its
generator process with psutil (peak of their sum), takes their CPU time from
``getrusage(RUSAGE_CHILDREN)`` and reads the row counts from the command's JSON output. The
machine is shared: the load average at the start is printed with each run. Prints one
markdown row per run and one with the medians.
Target: 1,000,000 persons in at most 3 minutes and 1 GiB on SQLite. Usage::

    .venv/bin/python bench/seed_demo.py [--persons 1000000] [--repeat 1]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench --reset]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _harness import machine

CLI = str(Path(sys.executable).with_name("closedloop"))
HEADER = (
    "| persons | store | wall s | CPU s | peak RSS MiB | load avg | persons | orders "
    "| order lines | all rows |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def run_once(persons: int, seed: int, url: str) -> dict[str, float]:
    """One timed run of the command; returns wall and CPU seconds, peak RSS and row counts."""
    env = dict(os.environ, CLOSEDLOOP_DATABASE_URL=url)
    cmd = [CLI, "seed", "demo", "--persons", str(persons), "--seed", str(seed), "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.DEVNULL)
        proc = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            with contextlib.suppress(psutil.Error):  # the command and its generator process
                tree = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            time.sleep(0.1)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode()
    if child.returncode != 0:
        raise SystemExit(f"seed demo failed with exit code {child.returncode}:\n{text}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counts = json.loads(text)
    rows = sum(v for k, v in counts.items() if k not in ("import_batch_id", "seconds"))
    return {
        "wall": wall, "cpu": cpu, "rss": peak / 2**20, "load": load, "persons": counts["persons"],
        "orders": counts["orders"], "lines": counts["order_lines"], "rows": rows,
    }  # fmt: skip


def row(persons: int, store: str, r: dict[str, float]) -> str:
    """One markdown table row."""
    return (
        f"| {persons:,} | {store} | {r['wall']:.0f} | {r['cpu']:.0f} | {r['rss']:.0f} "
        f"| {r['load']:.1f} | {r['persons']:,.0f} | {r['orders']:,.0f} | {r['lines']:,.0f} "
        f"| {r['rows']:,.0f} |"
    )


def main() -> None:
    """Parse the options, run the benchmark and print the markdown rows."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--reset", action="store_true", help="drop the PostgreSQL schema first")
    args = parser.parse_args()
    print(machine())
    print(HEADER)
    results = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="seed-bench-") as tmp:
            url = args.database_url or f"sqlite:///{tmp}/demo.db"
            if args.database_url and args.reset:
                _reset_postgres(url)
            result = run_once(args.persons, args.seed, url)
        store = "PostgreSQL" if args.database_url else "SQLite"
        results.append(result)
        print(row(args.persons, store, result), flush=True)
    if len(results) > 1:
        median = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(row(args.persons, f"{store} (median of {len(results)})", median))


if __name__ == "__main__":
    main()
