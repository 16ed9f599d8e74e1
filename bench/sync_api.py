"""Benchmark: batch upserts through the sync API (``POST /api/v1/sync/...``) on SQLite.

    .venv/bin/python bench/sync_api.py                 # 20 batches of 1,000 of each kind
    .venv/bin/python bench/sync_api.py --batches 5     # a quick one

A fresh SQLite store is migrated in a temporary folder; requests go through the real ASGI app
in-process (routing, bearer token, JSON parsing, validation, the import pipeline, the audit
write, the commit). Measured, in items per second of 1,000-item batches: new persons, the
same persons again (unchanged), new persons while a webhook endpoint subscribes to
``person.created`` (the outbox writes one delivery per person), new orders with two lines
each, and new events.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _harness import machine


def _persons(start: int, n: int, rng: random.Random) -> list[dict[str, Any]]:
    given = ["Jean", "Marie", "Ana", "Ion", "Lena", "Paul", "Sofia", "Hugo"]
    family = ["Dupont", "Martin", "Popescu", "Müller", "García", "Bernard", "Ionescu"]
    places = [("75011", "Paris"), ("69003", "Lyon"), ("13001", "Marseille"), ("33000", "Bordeaux")]
    out = []
    for i in range(start, start + n):
        code, town = rng.choice(places)
        out.append(
            {
                "external_id": f"C{i}",
                "given_name": rng.choice(given),
                "family_name": rng.choice(family),
                "email": f"client{i}@example.com",
                "phone": f"061{rng.randrange(10**7):07d}",
                "line1": f"{rng.randrange(1, 200)} rue de la Paix",
                "postal_code": code,
                "locality": town,
                "country": "FR",
                "birth_date": f"19{rng.randrange(40, 99)}-{rng.randrange(1, 13):02d}-"
                f"{rng.randrange(1, 28):02d}",
            }
        )
    return out


def _orders(start: int, n: int, people: int, rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"O{i}",
            "person_external_id": f"C{rng.randrange(people)}",
            "ordered_at": f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 28):02d}T10:00:00Z",
            "total_amount": "36.50",
            "channel": "web",
            "lines": [{"sku": "SKU-1", "quantity": 2}, {"sku": "SKU-2", "quantity": 1}],
        }
        for i in range(start, start + n)
    ]


def _events(start: int, n: int, people: int, rng: random.Random) -> list[dict[str, Any]]:
    kinds = ["page_view", "product_view", "cart_add", "store_visit"]
    return [
        {
            "external_id": f"E{i}",
            "kind": rng.choice(kinds),
            "occurred_at": "2025-03-01T10:00:00Z",
            "person_external_id": f"C{rng.randrange(people)}",
            "url": f"https://shop.example/p/{i % 500}",
        }
        for i in range(start, start + n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="sync-bench-")
    os.environ["CLOSEDLOOP_DATABASE_URL"] = f"sqlite:///{folder}/bench.db"
    os.environ["CLOSEDLOOP_SECRET_KEY"] = "bench-only-key"  # noqa: S105
    from fastapi.testclient import TestClient

    from closedloop.asgi import create_app
    from closedloop.bootstrap import get_engine, get_session_factory
    from closedloop.db.uow import unit_of_work
    from closedloop.interfaces import webhooks
    from closedloop.migrations import upgrade
    from closedloop.transactions.models import Product
    from closedloop.users import service as users
    from closedloop.vocab import Role

    engine = get_engine()
    upgrade(engine)
    factory = get_session_factory(engine)
    with unit_of_work(factory) as s:
        users.create_user(s, "bench", "bench-password-1", Role.ADMIN)
        token = users.create_api_token(s, "bench", "bench")
        s.add_all([Product(sku="SKU-1", name="Book", unit_price=12.25),
                   Product(sku="SKU-2", name="Pen", unit_price=12)])  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(7)
    size, batches = args.size, args.batches
    results: list[tuple[str, float]] = []
    with TestClient(create_app()) as client:

        def run(name: str, path: str, bodies: list[list[dict[str, Any]]], expect: str) -> None:
            started = time.perf_counter()
            for items in bodies:
                response = client.post(path, json={"items": items}, headers=headers)
                assert response.status_code == 200, response.text
                counts = response.json()["counts"]
                assert counts[expect] == len(items), counts
            spent = time.perf_counter() - started
            rate = len(bodies) * size / spent
            results.append((name, rate))
            print(f"{name:<48} {rate:>9,.0f} items/s  ({spent:.1f} s)", flush=True)

        people = [_persons(b * size, size, rng) for b in range(batches)]
        run("persons, new", "/api/v1/sync/persons?source=erp", people, "new")
        run("persons, same again (unchanged)", "/api/v1/sync/persons?source=erp", people,
            "unchanged")  # fmt: skip
        with unit_of_work(factory) as s:
            webhooks.create_endpoint(s, "http://127.0.0.1:9/none", ["person.created"])
        more = [_persons((batches + b) * size, size, rng) for b in range(batches)]
        run("persons, new, with a person.created webhook", "/api/v1/sync/persons?source=erp",
            more, "new")  # fmt: skip
        total = 2 * batches * size
        orders = [_orders(b * size, size, total, rng) for b in range(batches)]
        run("orders (2 lines each), new", "/api/v1/sync/orders?source=erp", orders, "new")
        events = [_events(b * size, size, total, rng) for b in range(batches)]
        run("events, new", "/api/v1/sync/events?source=erp", events, "new")
    print(machine())
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
