"""Segment count at demo-base scale (issue 16 targets), through the product's command line.

The 3-condition rule of the issue — tier A, email consent for marketing, bought category X at
least twice in the last 180 days — counted by ``closedloop segments count --rules FILE --json``
(a new process each time: start-up included), by the web builder's live preview (the real
ASGI app in-process, ``POST /segments/preview``: count and profile), and, for the ratio, the
same question hand-written in SQL for DuckDB over the tables exported to Parquet with
``closedloop export TABLE FILE.parquet``. Usage::

    .venv/bin/python bench/segments_count.py --database-url sqlite:///bench/out/seg-1m.db

The base is seeded (``closedloop seed demo``) and scored (``closedloop score``) first when it
is empty. X is the category bought by most persons in the window (the hardest case).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from _harness import machine, measure

CL = str(Path(sys.executable).parent / "closedloop")
TABLES = ("persons", "person_scores", "score_runs", "consent_current", "orders", "order_lines",
          "products", "product_categories")  # fmt: skip


def _cl(env: dict[str, str], *args: str) -> str:
    return subprocess.run([CL, *args], env=env, check=True, capture_output=True, text=True).stdout


def _prepare(env: dict[str, str], persons: int) -> None:
    _cl(env, "init")
    total = json.loads(_cl(env, "persons", "list", "--limit", "1", "--json"))["total"]
    if total == 0:
        subprocess.run([CL, "seed", "demo", "--persons", str(persons), "--seed", "42"], env=env,
                       check=True)  # fmt: skip
    runs = json.loads(_cl(env, "score-runs", "--json") or "[]")
    if not (runs.get("items") if isinstance(runs, dict) else runs):
        subprocess.run([CL, "score"], env=env, check=True)


def _busiest_category(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:  # set-up only: which category to ask about
        return str(conn.execute(text(
            "SELECT c.code FROM product_categories c JOIN products p ON p.category_id = c.id "
            "JOIN order_lines l ON l.product_id = p.id GROUP BY c.code "
            "ORDER BY count(*) DESC LIMIT 1")).scalar())  # fmt: skip


DUCKDB_SQL = """
WITH latest AS (
  SELECT id FROM read_parquet('{d}/score_runs.parquet') WHERE status = 'done'
  ORDER BY as_of DESC, id DESC LIMIT 1),
cats AS (
  WITH RECURSIVE t(id) AS (
    SELECT id FROM read_parquet('{d}/product_categories.parquet') WHERE code = '{cat}'
    UNION ALL
    SELECT c.id FROM read_parquet('{d}/product_categories.parquet') c JOIN t ON c.parent_id = t.id)
  SELECT id FROM t),
buyers AS (
  SELECT o.person_id FROM read_parquet('{d}/orders.parquet') o
  JOIN read_parquet('{d}/order_lines.parquet') l ON l.order_id = o.id
  JOIN read_parquet('{d}/products.parquet') p ON p.id = l.product_id
  WHERE p.category_id IN (SELECT id FROM cats) AND o.status = 'completed'
    AND o.supplier IS NULL AND o.person_id IS NOT NULL
    AND o.ordered_at >= TIMESTAMPTZ '{cutoff}'
  GROUP BY o.person_id HAVING count(DISTINCT o.id) >= 2)
SELECT count(*) FROM read_parquet('{d}/persons.parquet') pe
WHERE pe.merged_into_id IS NULL
  AND pe.id IN (SELECT person_id FROM read_parquet('{d}/person_scores.parquet')
                WHERE run_id = (SELECT id FROM latest) AND tier = 'A')
  AND pe.id IN (SELECT person_id FROM read_parquet('{d}/consent_current.parquet')
                WHERE channel = 'email' AND purpose = 'marketing' AND state = 'granted')
  AND pe.id IN (SELECT person_id FROM buyers)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="sqlite:///bench/out/seg-1m.db")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-duckdb", action="store_true")
    args = parser.parse_args()
    Path("bench/out").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CLOSEDLOOP_DATABASE_URL": args.database_url}
    env.setdefault("CLOSEDLOOP_SECRET_KEY", "bench-secret")
    _prepare(env, args.persons)
    category = _busiest_category(args.database_url)
    rule = {"all": [
        {"field": "tier", "op": "eq", "value": "A"},
        {"consent": {"channel": "email", "purpose": "marketing"}},
        {"orders": {"category": category, "min_count": 2, "days": 180}},
    ]}  # fmt: skip
    rule_file = Path("bench/out/segment-rule.json")
    rule_file.write_text(json.dumps(rule))
    counts: list[int] = []
    cpu: list[float] = []

    def cli_count() -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = _cl(env, "segments", "count", "--rules", str(rule_file), "--json")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        counts.append(json.loads(out)["count"])

    load = os.getloadavg()
    results = [measure("closedloop segments count (CLI process)", cli_count, args.repeat)]
    cli_cpu = sorted(cpu[1:])[len(cpu[1:]) // 2]  # the warm-up run left out

    os.environ.update(env)
    from datetime import UTC, datetime, timedelta

    from closedloop.bootstrap import get_session_factory
    from closedloop.segments import count

    factory = get_session_factory()

    def in_process() -> None:
        with factory() as s:
            counts.append(count(s, rule))

    results.append(measure("segments.count (in-process, internal)", in_process, args.repeat))
    results.append(_builder(rule, args.repeat))

    ratio = ""
    if not args.skip_duckdb:
        import duckdb

        stem = args.database_url.rsplit("/", 1)[-1].split(".")[0]
        folder = Path(f"bench/out/parquet-{stem}")
        folder.mkdir(exist_ok=True)
        for name in TABLES:
            target = folder / f"{name}.parquet"
            if not target.exists():
                _cl(env, "export", name, str(target))
        cutoff = (datetime.now(UTC).date() - timedelta(days=180)).isoformat() + " 00:00:00+00"
        sql = DUCKDB_SQL.format(d=folder, cat=category, cutoff=cutoff)
        con = duckdb.connect()
        duck: list[int] = []
        results.append(measure("DuckDB hand-written SQL over Parquet",
                               lambda: duck.append(con.execute(sql).fetchone()[0]),  # type: ignore[index]
                               args.repeat))  # fmt: skip
        assert duck[-1] == counts[-1], (duck[-1], counts[-1])
        ratio = f"{results[0].median / results[-1].median:.1f}"
    persons = json.loads(_cl(env, "persons", "list", "--limit", "1", "--json"))["total"]
    print(f"{persons:,} persons — {machine()} — load average {load[0]:.1f} at start")
    print(f"rule: {json.dumps(rule)} → {counts[-1]:,} persons\n")
    print("| measure | runs | median s | max s |\n|---|---:|---:|---:|")
    for t in results:
        print(f"| {t.name} | {len(t.samples)} | {t.median:.2f} | {max(t.samples):.2f} |")
    print(
        f"\nCLI count: median {cli_cpu:.2f} CPU-seconds per process (user + system); "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    if ratio:
        print(f"CLI count / DuckDB (wall): {ratio}×")
    mautic = 40 * 60 / 260_000 * persons
    print(
        f"Mautic rebuild at this size (40 min per 260k, linear): {mautic:,.0f} s; "
        f"ours {mautic / results[0].median:,.0f}× faster"
    )


def _builder(rule: dict[str, object], repeat: int) -> object:
    """The web builder's live preview (count and profile) of the same rule, in-process."""
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from closedloop.asgi import create_app
    from closedloop.bootstrap import get_session_factory
    from closedloop.db.uow import unit_of_work
    from closedloop.users import service as users
    from closedloop.users.models import User
    from closedloop.vocab import Role

    with unit_of_work(get_session_factory()) as s:
        if s.scalar(select(User.id).where(User.username == "bench")) is None:
            users.create_user(s, "bench", "bench-password-1", Role.ADMIN)
    client = TestClient(create_app())
    token = client.get("/login").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"username": "bench", "password": "bench-password-1",
                                "csrf_token": token})  # fmt: skip
    token = client.get("/segments/new").text.split('name="csrf_token" value="', 1)[1]
    token = token.split('"', 1)[0]
    conditions = rule["all"]  # type: ignore[index]
    orders = conditions[2]["orders"]  # type: ignore[index]
    form = {
        "csrf_token": token, "rows": "3", "match": "all",
        "c0_kind": "field", "c0_field": "tier", "c0_op": "eq", "c0_value": "A",
        "c1_kind": "consent", "c1_channel": "email", "c1_purpose": "marketing",
        "c2_kind": "orders", "c2_category": orders["category"], "c2_min_count": "2",
        "c2_days": "180",
    }  # fmt: skip

    def preview() -> None:
        started = time.perf_counter()
        r = client.post("/segments/preview", data=form)
        assert r.status_code == 200 and 'id="segment-count"' in r.text, r.text[:500]
        del started

    return measure("web builder live preview (count + profile, in-process)", preview, repeat)


if __name__ == "__main__":
    main()
