"""CPU seconds of a segment count, the builder's profile and DuckDB's answer (issue 16).

For a base that already exists (seeded and scored; ``bench/segments_count.py`` builds one and
exports its tables to Parquet): the in-process ``segments.count`` and ``segments.profile`` on
the store named by ``CLOSEDLOOP_DATABASE_URL``, then the same question hand-written in SQL for
DuckDB over the Parquet folder, with all threads and with one. Median of ``--repeat`` runs;
``time.process_time`` (this process's CPU) beside the wall time, since a shared machine's wall
clock says little. Usage::

    CLOSEDLOOP_DATABASE_URL=sqlite:///bench/out/demo-1m.db .venv/bin/python bench/segments_cpu.py \\
        --rules bench/out/segment-rule.json --parquet bench/out/parquet-demo-1m
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from segments_count import DUCKDB_SQL


def _median(fn: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """``fn``'s answer and the median (CPU s, wall s) of ``repeat`` runs."""
    runs = []
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        answer = fn()
        runs.append((time.process_time() - cpu, time.perf_counter() - wall))
    runs.sort()
    return answer, *runs[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=Path, required=True, help="the segment rule (JSON)")
    parser.add_argument("--parquet", type=Path, help="folder of the base's Parquet exports")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rule = json.loads(args.rules.read_text())

    from closedloop.bootstrap import get_session_factory
    from closedloop.segments import count
    from closedloop.segments.profile import profile

    print("load average", os.getloadavg())
    with get_session_factory()() as session:
        n, cpu, wall = _median(lambda: count(session, rule), args.repeat)
        print(f"segments.count: {n} persons, CPU {cpu:.3f} s, wall {wall:.3f} s")
        size, cpu, wall = _median(lambda: profile(session, rule).size, 1)
        print(f"segments.profile: size {size}, CPU {cpu:.3f} s, wall {wall:.3f} s")
    if args.parquet:
        import duckdb

        category = next(c["orders"]["category"] for c in rule["all"] if "orders" in c)
        cutoff = (datetime.now(UTC).date() - timedelta(days=180)).isoformat() + " 00:00:00+00"
        sql = DUCKDB_SQL.format(d=args.parquet, cat=category, cutoff=cutoff)
        for threads in (None, 1):
            con = duckdb.connect()
            if threads:
                con.execute(f"SET threads={threads}")
            n, cpu, wall = _median(lambda c=con: c.execute(sql).fetchone()[0], args.repeat)
            label = f"{threads} thread" if threads else "all threads"
            print(f"DuckDB ({label}): {n} persons, CPU {cpu:.3f} s, wall {wall:.3f} s")
    print("load average", os.getloadavg())


if __name__ == "__main__":
    main()
