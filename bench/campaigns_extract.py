"""Benchmark: extraction with arbitration of 5 concurrent campaigns over a large base, through
the product's own commands, on SQLite or PostgreSQL.

    .venv/bin/python bench/campaigns_extract.py --persons 1000000                 # SQLite
    .venv/bin/python bench/campaigns_extract.py --persons 1000000 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/bench_extract     # PostgreSQL
    .venv/bin/python bench/campaigns_extract.py --persons 100000 --keep /tmp/bx   # a quick one

The base is built from files: a persons CSV (name, email) and a consents CSV (email
marketing: 90 % granted, 5 % withdrawn, 5 % never asked), imported with
``closedloop import``; a dynamic segment of everyone frozen with ``closedloop segments
snapshot``; five campaigns made with ``closedloop campaigns create`` (priorities 10–50, a 10 %
control cell, one wave each on five consecutive days) targeting that snapshot; a pressure rule
``at most 2 messages in any 7 days`` (``closedloop pressure set``). Then the timed step:

    closedloop campaigns extract W1 W2 W3 W4 W5 --json

one process, the five waves highest priority first (each person gets the two best campaigns,
the three others log them as pressure or arbitration exclusions). The target (issue 17) is
≤ 30 s for 1M persons.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import machine

CLI = [str(Path(sys.executable).with_name("closedloop"))]


def generate(folder: Path, persons: int, seed: int = 17) -> tuple[Path, Path]:
    """The persons and consents files."""
    rnd = random.Random(seed)
    people, consents = folder / "persons.csv", folder / "consents.csv"
    with people.open("w", newline="") as fp, consents.open("w", newline="") as fc:
        pw, cw = csv.writer(fp), csv.writer(fc)
        pw.writerow(["external_id", "given_name", "family_name", "email"])
        cw.writerow(["person_external_id", "channel", "purpose", "state", "occurred_at",
                     "method", "proof_text"])  # fmt: skip
        for n in range(persons):
            pw.writerow([f"P{n}", "Ann", f"Reader{n}", f"reader{n}@example.org"])
            u = rnd.random()
            if u < 0.95:
                state = "granted" if u < 0.90 else "withdrawn"
                cw.writerow([f"P{n}", "email", "marketing", state, "2026-11-01T10:00:00Z",
                             "import", "Yes, send me offers."])  # fmt: skip
    return people, consents


def run(args: list[str], env: dict[str, str], *, timed: bool = False) -> tuple[str, float, float]:
    """Run a closedloop command; returns its output, wall seconds and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"closedloop {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    if timed or wall > 5:
        print(f"  closedloop {' '.join(args)[:70]}: {wall:.1f} s", file=sys.stderr)
    return done.stdout, wall, cpu


def fresh_postgres(url: str) -> None:
    """Drop and recreate the database named in ``url``."""
    from sqlalchemy import create_engine, make_url, text

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def make_url_name(url: str) -> str:
    """The database name in a URL."""
    from sqlalchemy import make_url

    return str(make_url(url).database)


def copy_postgres(url: str, copy: str) -> None:
    """Copy the database named in ``url`` to ``copy`` (CREATE DATABASE … TEMPLATE)."""
    from sqlalchemy import create_engine, make_url, text

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}"'))
        conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{target.database}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--database", help="A PostgreSQL URL (default: a fresh SQLite file).")
    parser.add_argument("--keep", type=Path, help="Keep the files and the SQLite store here.")
    a = parser.parse_args()
    folder = a.keep or Path(tempfile.mkdtemp(prefix="bench-extract-"))
    folder.mkdir(parents=True, exist_ok=True)
    if a.database:
        fresh_postgres(a.database)
        url = a.database
    else:
        db = folder / "extract.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db}"
    env = {**os.environ, "CLOSEDLOOP_DATABASE_URL": url}
    print(f"machine: {machine()}; load {os.getloadavg()}", file=sys.stderr)
    people, consents = generate(folder, a.persons)
    run(["init"], env)
    _, t_people, _ = run(["import", "persons", str(people)], env, timed=True)
    _, t_consents, _ = run(["import", "consents", str(consents)], env, timed=True)
    rules = folder / "everyone.json"
    rules.write_text(json.dumps({"all": []}))
    seg = json.loads(run(["segments", "create", "everyone", "--rules", str(rules), "--json"],
                         env)[0])  # fmt: skip
    snap = json.loads(run(["segments", "snapshot", str(seg["id"]), "--name", "everyone now",
                           "--json"], env, timed=True)[0])  # fmt: skip
    run(["pressure", "set", "two-a-week", "--max", "2", "--days", "7"], env)
    waves = []
    for k in range(5):
        made = json.loads(run([
            "campaigns", "create", "--code", f"C{k + 1}", "--name", f"Campaign {k + 1}",
            "--channel", "email", "--control-share", "0.1", "--priority", str(10 * (k + 1)),
            "--segment", str(snap["id"]), "--wave-at", f"2026-12-{10 + k}T09:00:00", "--json",
        ], env)[0])  # fmt: skip
        waves.append(str(made["waves"][0]["id"]))
    if a.keep and not a.database:
        # A copy of the base before the extraction, to rerun it (old code / new code).
        shutil.copyfile(folder / "extract.db", folder / "before-extract.db")
        (folder / "waves.txt").write_text(" ".join(waves) + "\n")
    if a.keep and a.database:
        (folder / "waves.txt").write_text(" ".join(waves) + "\n")
        copy_postgres(a.database, make_url_name(a.database) + "_base")
    load = os.getloadavg()
    out, wall, cpu = run(["campaigns", "extract", *waves, "--json"], env, timed=True)
    results = json.loads(out)
    queued = sum(r["queued"] for r in results)
    excluded: dict[str, int] = {}
    for r in results:
        for stage, n in r["excluded"].items():
            excluded[stage] = excluded.get(stage, 0) + n
    report = {
        "database": "postgresql" if a.database else "sqlite",
        "persons": a.persons,
        "import_persons_s": round(t_people, 1),
        "import_consents_s": round(t_consents, 1),
        "extract_s": round(wall, 1),
        "extract_cpu_s": round(cpu, 1),
        "person_decisions_per_s": round(5 * a.persons / wall),
        "queued": queued,
        "excluded": excluded,
        "load_before_extract": [round(x, 1) for x in load],
        "load_after": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
