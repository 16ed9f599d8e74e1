"""Benchmark: ``closedloop import consents`` of a file of grants and withdrawals, through the CLI.

    .venv/bin/python bench/import_consents.py --rows 50000
    .venv/bin/python bench/import_consents.py --rows 50000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_consents

A fresh base (SQLite in a temporary directory unless ``--database-url`` names one, which must
be empty) gets ``--rows / 2`` persons (``closedloop import persons``), then a consents file of
``--rows`` rows: per person an email grant with its proof, and for half of them a later
withdrawal of the same channel, and an SMS grant for the others. The consents file is imported
twice (the second run finds every event already in the ledger). Timed: each CLI process.
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

sys.path.insert(0, str(Path(__file__).parent))

from _harness import machine

CL = str(Path(sys.executable).parent / "closedloop")


def _cl(env: dict[str, str], *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run([CL, *args], env=env, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def generate(folder: Path, rows: int) -> tuple[Path, Path]:
    """A persons file and a consents file of ``rows`` rows naming them."""
    people = max(1, rows // 2)
    persons = folder / "persons.csv"
    with persons.open("w") as fh:
        fh.write("external_id,given_name,family_name,email\n")
        for i in range(people):
            fh.write(f"P{i},Anne{i % 97},Martin{i % 1013},p{i}@example.org\n")
    consents = folder / "consents.csv"
    with consents.open("w") as fh:
        fh.write("person_external_id,channel,purpose,state,occurred_at,proof_text\n")
        written = 0
        for i in range(people):
            day = 1 + i % 28
            fh.write(f"P{i},email,marketing,granted,2024-03-{day:02d} 10:00,Newsletter v1\n")
            written += 1
            if written >= rows:
                break
            if i % 2:
                fh.write(f"P{i},email,marketing,withdrawn,2024-04-{day:02d} 09:30,\n")
            else:
                fh.write(f"P{i},sms,marketing,granted,2024-03-{day:02d} 11:00,SMS offers v2\n")
            written += 1
    return persons, consents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        env = {**os.environ, "CLOSEDLOOP_DATABASE_URL": url}
        persons, consents = generate(folder, args.rows)
        _cl(env, "init")
        load = os.getloadavg()[0]
        t_persons, _ = _cl(env, "import", "persons", str(persons), "--source", "bench", "--json")
        t_first, out1 = _cl(env, "import", "consents", str(consents), "--source", "bench", "--json")
        t_again, out2 = _cl(env, "import", "consents", str(consents), "--source", "bench", "--json")
        result = {
            "machine": machine(),
            "database": url.split(":", 1)[0],
            "rows": args.rows,
            "load_average_at_start": round(load, 1),
            "load_average_at_end": round(os.getloadavg()[0], 1),
            "persons_import_s": round(t_persons, 2),
            "consents_first_s": round(t_first, 2),
            "consents_first_rows_per_s": round(args.rows / t_first),
            "consents_again_s": round(t_again, 2),
            "consents_again_rows_per_s": round(args.rows / t_again),
            "counts_first": json.loads(out1).get("counts"),
            "counts_again": json.loads(out2).get("counts"),
        }
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
