"""Benchmark: a persons CSV validated and upserted into a fresh SQLite store, the same file
imported again, and plain ``pandas.read_csv`` + ``DataFrame.to_sql`` of the same file.

    .venv/bin/python bench/import_persons.py --rows 1000000            # the full run
    .venv/bin/python bench/import_persons.py --rows 100000 --keep /tmp/b  # a quick one
    .venv/bin/python bench/import_persons.py --generate-only --rows 100000 --keep /tmp/b

The file is realistic and multilingual: names, streets, real postal code/locality pairs and
phone plans of seven locales (the demo generator's tables: FR, DE, ES, RO, GB, US, CN), birth
dates in three formats, family names in capitals in a third of the French and Romanian rows,
and about 1 % bad rows (mistyped mail domains, impossible dates, phone numbers that do not
exist, empty names). Each phase runs in a child process so that its peak RSS is its own.
Targets (issue 3): ≥ 20,000 rows/s and ≤ 500 MB on the first import, ≥ 50,000 rows/s again.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import machine

COLUMNS = (
    "external_id",
    "salutation",
    "given_name",
    "family_name",
    "gender",
    "birth_date",
    "email",
    "phone",
    "line1",
    "postal_code",
    "locality",
    "country",
)


def generate(path: Path, rows: int, seed: int = 7) -> dict[str, int]:
    """Write ``rows`` persons to ``path``; returns how many rows of each bad kind."""
    from closedloop.demo.locales import phone_groups
    from closedloop.demo.pools import build_pools

    pools = build_pools(seed, size=600)
    weights = [p.spec.weight for p in pools]
    rnd = random.Random(seed)
    bad = {"email_typo": 0, "impossible_date": 0, "bad_phone": 0, "no_name": 0}
    places = [
        (
            p.place_locality.tolist(),
            p.place_code.tolist(),
            p.given[0].tolist(),
            p.given[1].tolist(),
            p.family.tolist(),
            p.streets.tolist(),
            [d for d in p.domains.tolist()],
            p.given_ascii[0].tolist(),
            p.given_ascii[1].tolist(),
            p.family_ascii.tolist(),
        )
        for p in pools
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for n in range(rows):
            li = rnd.choices(range(len(pools)), weights)[0]
            pool = pools[li]
            spec = pool.spec
            loc, codes, gf, gm, fam, streets, domains, af, am, fa = places[li]
            female = rnd.random() < 0.5
            k = rnd.randrange(len(gf if female else gm))
            given = (gf if female else gm)[k]
            given_ascii = (af if female else am)[k]
            j = rnd.randrange(len(fam))
            family = fam[j]
            if spec.country in ("FR", "RO") and rnd.random() < 0.33:
                family = family.upper()
            p = rnd.randrange(len(codes))
            year = rnd.randint(1940, 2006)
            month, day = rnd.randint(1, 12), rnd.randint(1, 28)
            style = rnd.random()
            if style < 0.5:
                born = f"{year}-{month:02d}-{day:02d}"
            elif style < 0.9:
                born = f"{day:02d}/{month:02d}/{year}"
            else:
                born = f"{day}.{month}.{year}"
            domain = rnd.choice(domains)
            local = f"{given_ascii}.{fa[j]}{rnd.randrange(1000)}" if given_ascii else f"c{n}"
            email = f"{local}@{domain}" if rnd.random() < 0.88 else ""
            mobile = rnd.random() < 0.8
            table = pool.mobile if mobile else pool.landline
            prefix, rest = table[rnd.randrange(len(table))]
            low = 2 * 10 ** (rest - 1) if spec.country == "US" else 0
            nsn = f"{prefix}{rnd.randrange(low, 10**rest):0{rest}d}"
            national = nsn if (spec.country == "CN" and mobile) else spec.trunk + nsn
            phone = (
                phone_groups(spec.country, national, mobile, len(spec.trunk) + len(prefix))
                if rnd.random() < 0.8
                else f"+{spec.calling_code}{nsn}"
            )
            if rnd.random() < 0.2:
                phone = ""
            street = rnd.choice(streets)
            line1 = spec.line1.format(n=rnd.randint(1, 180), s=street)
            salutation = spec.salutations[0 if female else 1]
            gender = "F" if female else "M"
            roll = rnd.random()
            if roll < 0.003:
                email, bad["email_typo"] = f"{local}@gmial.com", bad["email_typo"] + 1
            elif roll < 0.006:
                born, bad["impossible_date"] = f"31/02/{year}", bad["impossible_date"] + 1
            elif roll < 0.008 and phone:
                phone, bad["bad_phone"] = "12345", bad["bad_phone"] + 1
            elif roll < 0.01:
                given, family, email, phone = "", "", "", ""
                bad["no_name"] += 1
            out.writerow(
                (
                    f"P{n:08d}",
                    salutation,
                    given,
                    family,
                    gender,
                    born,
                    email,
                    phone,
                    line1,
                    codes[p],
                    loc[p],
                    spec.country,
                )
            )
    return bad


class PeakRss:
    """Peak memory of this process and its children (the validation workers), sampled every
    500 ms while the block runs: the sum of their proportional set sizes (PSS), which counts
    the pages a forked worker shares with its parent once, not twice as an RSS sum would."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                total = self.proc.memory_full_info().pss + sum(
                    c.memory_full_info().pss for c in self.proc.children(recursive=True)
                )
            except Exception:  # noqa: S112 - a child that just ended
                continue
            self.peak = max(self.peak, total)
            self._stop.wait(0.5)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> float:
        return self.peak / 2**20

    @staticmethod
    def own_rss_mib() -> float:
        """Peak RSS of this process alone (the kernel's high-water mark)."""
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_import(db: str, csv_path: str) -> dict[str, object]:
    """One ``closedloop import persons`` of the file (in this process)."""
    from closedloop.bootstrap import engine_for
    from closedloop.ingest.service.runner import run_import
    from closedloop.ingest.validate.context import Options
    from closedloop.migrations import upgrade

    engine = engine_for(f"sqlite:///{db}")
    upgrade(engine)
    load_before = os.getloadavg()[0]
    with PeakRss() as peak:
        start = time.perf_counter()
        cpu = time.process_time()
        before = os.times()
        summary = run_import(engine, Path(csv_path), "persons", Options(source="bench"))
        seconds = time.perf_counter() - start
        cpu_main = time.process_time() - cpu
        after = os.times()
    return {
        "seconds": seconds,
        "cpu_main": cpu_main,
        "cpu_workers": (after.children_user + after.children_system)
        - (before.children_user + before.children_system),
        "counts": summary.counts,
        "peak_mib": peak.mib,
        "main_rss_mib": PeakRss.own_rss_mib(),
        "load": [load_before, os.getloadavg()[0]],
    }


def phase_pandas(db: str, csv_path: str) -> dict[str, object]:
    """Plain pandas: read the CSV as text and append it to a table, no validation."""
    import sqlite3

    import pandas as pd

    with PeakRss() as peak:
        start = time.perf_counter()
        conn = sqlite3.connect(db)
        rows = 0
        for frame in pd.read_csv(csv_path, dtype=str, keep_default_na=False, chunksize=100_000):
            frame.to_sql("persons_pandas", conn, if_exists="append", index=False)
            rows += len(frame)
        conn.commit()
        conn.close()
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rows": rows,
        "peak_mib": peak.mib,
        "main_rss_mib": PeakRss.own_rss_mib(),
    }


def _child(phase: str, db: str, csv_path: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--db", db, "--csv", csv_path],
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="folder for the CSV and databases (kept)")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--phase", choices=("import", "pandas"))
    parser.add_argument("--db")
    parser.add_argument("--csv")
    args = parser.parse_args()
    if args.phase:
        fn = phase_import if args.phase == "import" else phase_pandas
        print(json.dumps(fn(args.db, args.csv)))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-import-"))
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"persons-{args.rows}.csv"
    if not csv_path.exists():
        start = time.perf_counter()
        bad = generate(csv_path, args.rows)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - start:.0f} s: {bad}")
    size_mib = csv_path.stat().st_size / 2**20
    print(f"file {csv_path} ({size_mib:.0f} MiB)")
    if args.generate_only:
        return
    db = str(folder / "store.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    first = _child("import", db, str(csv_path))
    again = _child("import", db, str(csv_path))
    pandas_db = str(folder / "pandas.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(pandas_db + suffix):
            os.remove(pandas_db + suffix)
    plain = _child("pandas", pandas_db, str(csv_path))
    rows = args.rows

    def rate(r: dict[str, object]) -> float:
        return rows / float(r["seconds"])  # type: ignore[arg-type]

    print(machine())
    print(f"rows: {rows:,}, file {size_mib:.0f} MiB")
    for name, phase in (("first import", first), ("re-import", again)):
        print(
            f"{name} CPU: main {float(phase['cpu_main']):.1f} s, "  # type: ignore[arg-type]
            f"workers {float(phase['cpu_workers']):.1f} s; load average "  # type: ignore[arg-type]
            f"{phase['load'][0]:.2f} before, {phase['load'][1]:.2f} after"  # type: ignore[index]
        )
    print(
        f"first import: {float(first['seconds']):.1f} s, {rate(first):,.0f} rows/s, "  # type: ignore[arg-type]
        f"peak memory {float(first['peak_mib']):.0f} MiB, counts {first['counts']}"  # type: ignore[arg-type]
    )
    print(
        f"re-import:    {float(again['seconds']):.1f} s, {rate(again):,.0f} rows/s, "  # type: ignore[arg-type]
        f"peak memory {float(again['peak_mib']):.0f} MiB, counts {again['counts']}"  # type: ignore[arg-type]
    )
    print(
        f"pandas:       {float(plain['seconds']):.1f} s, {rate(plain):,.0f} rows/s, "  # type: ignore[arg-type]
        f"peak memory {float(plain['peak_mib']):.0f} MiB"  # type: ignore[arg-type]
    )
    print(
        f"ratio to pandas: first {rate(first) / rate(plain):.2f}, "
        f"again {rate(again) / rate(plain):.2f}"
    )


if __name__ == "__main__":
    main()
