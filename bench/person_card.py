"""Person card and search latency on a large base (issue 2 targets).

Targets: person card (HTML) p95 ≤ 100 ms at 1M persons; search by email or postal code
p95 ≤ 200 ms. Usage::

    .venv/bin/python bench/person_card.py --database-url sqlite:///bench-1m.db --persons 1000000

The base is seeded with ``closedloop seed demo`` when it is empty. Requests go through the real
ASGI app in-process (FastAPI TestClient), logged in as an admin, so the figures include
routing, the queries, template rendering and the audit write.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

from _harness import machine, measure


def _seed_if_empty(url: str, persons: int) -> None:
    env = {**os.environ, "CLOSEDLOOP_DATABASE_URL": url}
    cl = str(Path(sys.executable).parent / "closedloop")
    subprocess.run([cl, "init"], env=env, check=True)
    out = subprocess.run(
        [cl, "persons", "list", "--limit", "1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if json.loads(out)["total"] == 0:
        subprocess.run([cl, "seed", "demo", "--persons", str(persons)], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="sqlite:///bench/out/bench-1m.db")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    Path("bench/out").mkdir(parents=True, exist_ok=True)
    _seed_if_empty(args.database_url, args.persons)

    os.environ["CLOSEDLOOP_DATABASE_URL"] = args.database_url
    os.environ.setdefault("CLOSEDLOOP_SECRET_KEY", "bench-secret")
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from closedloop.asgi import create_app
    from closedloop.bootstrap import get_session_factory
    from closedloop.contacts.models import Address, Email, Person
    from closedloop.db.uow import unit_of_work
    from closedloop.users import service as users
    from closedloop.users.models import User
    from closedloop.vocab import Role

    factory = get_session_factory()
    with unit_of_work(factory) as s:
        if s.scalar(select(User.id).where(User.username == "bench")) is None:
            users.create_user(s, "bench", "bench-password-1", Role.ADMIN)
        total = s.scalar(select(func.count()).select_from(Person)) or 0
        max_id = s.scalar(select(func.max(Person.id))) or 0
        rng = random.Random(7)
        ids = [rng.randint(1, max_id) for _ in range(args.requests * 3)]
        ids = [i for i in ids if s.get(Person, i) is not None][: args.requests]
        emails = list(s.scalars(select(Email.address_key).where(Email.person_id.in_(ids))))
        codes = list(
            s.scalars(
                select(Address.postal_code).where(
                    Address.person_id.in_(ids), Address.postal_code.is_not(None)
                )
            )
        )

    client = TestClient(create_app())
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    resp = client.post(
        "/login",
        data={"username": "bench", "password": "bench-password-1", "csrf_token": token},
        follow_redirects=False,
    )
    assert resp.status_code in (302, 303), resp.text[:300]

    it_card = iter(ids * 2)
    it_email = iter(emails * 2)
    it_code = iter(codes * 2)

    def get(url: str) -> None:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)

    n = min(args.requests, len(ids))
    results = [
        measure("person card (HTML)", lambda: get(f"/persons/{next(it_card)}"), n, warmup=5),
        measure(
            "search by email (HTML list)",
            lambda: get(f"/persons?q={next(it_email)}"),
            min(n, len(emails)),
            warmup=5,
        ),
        measure(
            "search by postal code (HTML list)",
            lambda: get(f"/persons?q={next(it_code)}"),
            min(n, len(codes)),
            warmup=5,
        ),
    ]
    rows = [
        {
            "operation": t.name,
            "n": len(t.samples),
            "median_ms": round(t.median * 1000, 1),
            "p95_ms": round(t.percentile(95) * 1000, 1),
        }
        for t in results
    ]
    if args.json:
        print(json.dumps({"persons": total, "machine": machine(), "results": rows}, indent=2))
        return
    print(f"{total:,} persons — {machine()}\n")
    print("| operation | requests | median ms | p95 ms |\n|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['operation']} | {r['n']} | {r['median_ms']} | {r['p95_ms']} |")


if __name__ == "__main__":
    main()
