"""Evaluation of a campaign with N contacted persons (target: 1M in ≤ 5 s on SQLite and
PostgreSQL), through the product's command: ``closedloop campaigns report ID --json``.

A fresh store is made with ``closedloop init``; a bulk-insert step (SQLAlchemy Core, the
product's own tables) fills it: N persons, a campaign with two treated cells (A, B) and a 10 %
control group, two waves (the second to a third of the treated), opens and clicks, one order
before the campaign for a fifth of the persons, purchases in the window (5 % baseline, +1.5
points for A, +0.5 for B) and some after it. Then the command runs ``--runs`` times; the wall
time of each run (process start included) is printed with the load average, and the
evaluation itself (the service call inside one process) is timed beside it, labelled.

  python bench/evaluation_report.py --persons 1000000
  python bench/evaluation_report.py --persons 1000000 \\
      --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_evaluation
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from _harness import machine
from sqlalchemy import create_engine, insert, make_url, text

from closedloop.campaigns.models import Campaign, CampaignMember, Cell, Communication, Wave
from closedloop.contacts.models import Person
from closedloop.responses.models import Response
from closedloop.transactions.models import Order

CLI = str(Path(sys.executable).parent / "closedloop")
SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHUNK = 50_000


def _fresh(url: str) -> None:
    """Drop and create the PostgreSQL database of ``url`` (SQLite: delete the file)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").unlink(missing_ok=True)
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def _chunks(rows: list[dict[str, object]]) -> list[list[dict[str, object]]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


def load(url: str, persons: int, seed: int = 1) -> int:
    """Bulk-insert the base; returns the campaign's id."""
    rng = random.Random(seed)
    engine = create_engine(url)
    with engine.begin() as conn:
        for part in _chunks([{"given_name": "P", "family_name": f"F{i}"} for i in range(persons)]):
            conn.execute(insert(Person), part)
        ids = [r[0] for r in conn.execute(text("SELECT id FROM persons ORDER BY id"))]
        campaign_id = conn.execute(
            insert(Campaign).returning(Campaign.id),
            {"code": "BENCH", "name": "Bench", "status": "completed", "response_window_days": 30},
        ).scalar_one()
        waves = [
            conn.execute(
                insert(Wave).returning(Wave.id),
                {
                    "campaign_id": campaign_id,
                    "name": name,
                    "status": "completed",
                    "scheduled_at": SENT + timedelta(days=d),
                },
            ).scalar_one()
            for name, d in (("first", 0), ("reminder", 7))
        ]
        cells = {
            code: conn.execute(
                insert(Cell).returning(Cell.id),
                {
                    "campaign_id": campaign_id,
                    "code": code,
                    "name": f"Cell {code}",
                    "is_control": code == "CTL",
                    "share": share,
                    "unit_cost": Decimal("0.08"),
                },
            ).scalar_one()
            for code, share in (("A", 0.45), ("B", 0.45), ("CTL", 0.10))
        }
        members, comms, responses, orders = [], [], [], []
        uplift = {"A": 0.015, "B": 0.005, "CTL": 0.0}
        for p in ids:
            draw = rng.random()
            code = "A" if draw < 0.45 else "B" if draw < 0.9 else "CTL"
            members.append({"campaign_id": campaign_id, "cell_id": cells[code], "person_id": p})
            if rng.random() < 0.2:
                orders.append(
                    {
                        "person_id": p,
                        "ordered_at": SENT - timedelta(days=rng.randint(5, 300)),
                        "total_amount": Decimal("35.00"),
                        "currency": "EUR",
                    }
                )
            if code != "CTL":
                for wave, day in ((waves[0], 0), (waves[1], 7)):
                    if day and rng.random() > 0.33:
                        continue
                    comms.append(
                        {
                            "person_id": p,
                            "campaign_id": campaign_id,
                            "wave_id": wave,
                            "cell_id": cells[code],
                            "channel": "email",
                            "status": "sent",
                            "sent_at": SENT + timedelta(days=day, seconds=rng.randint(0, 7200)),
                        }
                    )
                if rng.random() < 0.25:
                    responses.append(
                        {
                            "person_id": p,
                            "campaign_id": campaign_id,
                            "kind": "open",
                            "wave_id": waves[0],
                            "cell_id": cells[code],
                            "occurred_at": SENT + timedelta(hours=5),
                        }
                    )
                    if rng.random() < 0.25:
                        responses.append(
                            {
                                "person_id": p,
                                "campaign_id": campaign_id,
                                "kind": "click",
                                "wave_id": waves[0],
                                "cell_id": cells[code],
                                "occurred_at": SENT + timedelta(hours=6),
                            }
                        )
            if rng.random() < 0.05 + uplift[code]:
                orders.append(
                    {
                        "person_id": p,
                        "ordered_at": SENT + timedelta(days=rng.uniform(0.1, 29)),
                        "total_amount": Decimal(rng.choice(("25.00", "49.90", "80.00"))),
                        "currency": "EUR",
                    }
                )
            if rng.random() < 0.03:
                orders.append(
                    {
                        "person_id": p,
                        "ordered_at": SENT + timedelta(days=rng.uniform(40, 90)),
                        "total_amount": Decimal("20.00"),
                        "currency": "EUR",
                    }
                )
        for table, rows in (
            (CampaignMember, members),
            (Communication, comms),
            (Response, responses),
            (Order, orders),
        ):
            for part in _chunks(rows):
                conn.execute(insert(table), part)
        print(
            f"loaded: {len(ids):,} persons, {len(members):,} members, {len(comms):,} messages, "
            f"{len(responses):,} responses, {len(orders):,} orders",
            flush=True,
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return int(campaign_id)


def main() -> None:
    """Build the base, run the command, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="a PostgreSQL URL (its database is recreated)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--reuse", action="store_true", help="evaluate the base a previous run left at the URL"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="with --reuse: rebuild the funnel counters first"
    )
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-evaluation-")
    url = args.database_url or f"sqlite:///{tmp}/evaluation.db"
    env = {**os.environ, "CLOSEDLOOP_DATABASE_URL": url}
    if args.reuse:
        with create_engine(url).connect() as conn:
            found = conn.execute(text("SELECT id FROM campaigns WHERE code = 'BENCH'")).scalar()
        campaign_id = int(found)
    else:
        _fresh(url)
        subprocess.run([CLI, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
        start = time.perf_counter()
        campaign_id = load(url, args.persons)
        print(f"load: {time.perf_counter() - start:.1f} s", flush=True)
    if args.rebuild or not args.reuse:
        # the rows were bulk-loaded behind the sender's and the capture's back: count the
        # funnel counters once from them, as after an import or a restore
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [CLI, "evaluation", "rebuild-counters", str(campaign_id)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        print(
            f"closedloop evaluation rebuild-counters (once after the bulk load): wall "
            f"{time.perf_counter() - start:.2f} s, CPU {cpu:.2f} s",
            flush=True,
        )
    walls, cpus, loads, data = [], [], [], {}
    for _ in range(args.runs):
        loads.append(os.getloadavg()[0])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [CLI, "campaigns", "report", str(campaign_id), "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        data = json.loads(done.stdout)
    os.environ["CLOSEDLOOP_DATABASE_URL"] = url
    from closedloop.bootstrap import engine_for
    from closedloop.evaluation import evaluate

    engine = engine_for(url)
    inner = []
    for _ in range(args.runs):
        with engine.connect() as conn:
            from sqlalchemy.orm import Session

            start = time.perf_counter()
            evaluate(Session(bind=conn), campaign_id)
            inner.append(time.perf_counter() - start)
    total = data["total"]
    print(f"machine: {machine()}")
    print(
        f"store: {make_url(url).get_backend_name()}, contacted {total['contacted']:,}, "
        f"members {total['members'] + (data['control'] or {}).get('members', 0):,}"
    )
    print(f"verdict: {data['verdict']}")
    for cell in data["cells"]:
        lift = cell["lift"]["conversion"] if cell["lift"] else None
        extra = ""
        if lift:
            low, high = lift["ci_low"] * 100, lift["ci_high"] * 100
            extra = f" lift {lift['diff'] * 100:+.2f} pt [{low:.2f}, {high:.2f}]"
        print(
            f"  {cell['label']}: members {cell['members']:,} converted {cell['converted']:,}{extra}"
        )
    wall = ", ".join(f"{w:.2f}" for w in walls)
    cpu = ", ".join(f"{c:.2f}" for c in cpus)
    avg = ", ".join(f"{x:.1f}" for x in loads)
    print(f"closedloop campaigns report --json: wall s {wall}; CPU s (user+sys) {cpu}")
    print(f"  median wall {statistics.median(walls):.2f} s; load average {avg}")
    print(
        f"evaluate() inside one process, s (internal, labelled): "
        f"{', '.join(f'{w:.2f}' for w in inner)}"
    )


if __name__ == "__main__":
    main()
