"""Benchmark of the online duplicate check (issue 4): p50/p95/p99 latency of
``find_candidates`` for new persons against a base of N persons.

Usage::

    .venv/bin/python bench/dedupe_online.py --n 1000000 --checks 1000 [--url URL] [--json]

The base is the store at ``--url`` when it holds persons (e.g. a demo base made by
``closedloop seed demo --persons N``); otherwise the script fills an empty SQLite store with N
bulk-generated persons (the engine's synthetic generator: small name pools, so blocks are
large). Persons missing from the online index are indexed first. Checks are typo'd copies of
stored persons and brand-new persons, half and half; wall-clock and CPU time are reported
(the machine is shared: CPU time is what the check costs, wall time what a caller waited).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from closedloop.bootstrap import engine_for, get_session_factory
from closedloop.contacts.models import Address, Email, Person, Phone
from closedloop.contacts.schemas import PersonCreate
from closedloop.dedupe.engine.evaluate import synthetic_persons
from closedloop.dedupe.indexing import index_missing
from closedloop.dedupe.models import PersonMatchKey
from closedloop.dedupe.online import find_candidates
from closedloop.migrations import upgrade


def fill(url: str, n: int) -> None:
    """Bulk-insert ``n`` synthetic persons with an email, a phone and an address."""
    engine = engine_for(url)
    upgrade(engine)
    df, _ = synthetic_persons(n, seed=1)
    factory = get_session_factory(engine)
    step = 50_000
    for start in range(0, n, step):
        part = df.iloc[start : start + step]
        with factory.begin() as s:
            first = int(s.scalar(select(func.coalesce(func.max(Person.id), 0))) or 0) + 1
            ids = list(range(first, first + len(part)))
            s.execute(insert(Person), [
                {"id": i, "given_name": g, "family_name": f, "given_key": g, "family_key": f,
                 "birth_date": _date(b), "version": 1}
                for i, g, f, b in zip(ids, part.given_name, part.family_name, part.birth_date,
                                      strict=True)
            ])  # fmt: skip
            s.execute(insert(Email), [
                {"person_id": i, "address": e, "address_key": e.lower(), "is_primary": True}
                for i, e in zip(ids, part.email, strict=True) if e
            ])  # fmt: skip
            s.execute(insert(Phone), [
                {"person_id": i, "e164": "+33" + p[1:], "is_primary": True}
                for i, p in zip(ids, part.phone, strict=True) if p
            ])  # fmt: skip
            s.execute(insert(Address), [
                {"person_id": i, "line1": st, "postal_code": pc, "locality": lo,
                 "is_primary": True, "country": "FR"}
                for i, st, pc, lo in zip(ids, part.street, part.postal_code, part.locality,
                                         strict=True)
            ])  # fmt: skip
        print(f"  {min(start + step, n):,} persons", flush=True)


def _date(value: object) -> object:
    from datetime import date

    text = str(value)
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _probes(s: Session, n: int, seed: int) -> list[PersonCreate]:
    """Half typo'd copies of stored persons (with their email), half namesakes born in 1904."""
    rng = np.random.default_rng(seed)
    top = int(s.scalar(select(func.max(Person.id))) or 0)
    out: list[PersonCreate] = []
    while len(out) < n:
        person = s.get(Person, int(rng.integers(1, top + 1)))
        if person is None or person.merged_into_id is not None:
            continue
        given = person.given_name or "x"
        if len(out) % 2 == 0:  # a typo'd copy
            if len(given) > 3:
                given = given[:2] + given[3] + given[2] + given[4:]
            out.append(PersonCreate.model_validate({
                "given_name": given, "family_name": person.family_name,
                "birth_date": person.birth_date,
                "emails": [{"address": e.address} for e in person.emails[:1]],
            }))  # fmt: skip
        else:  # a new person: another birth year, no contact
            born = person.birth_date.replace(year=1904) if person.birth_date else None
            out.append(PersonCreate(given_name=given, family_name=person.family_name,
                                    birth_date=born))  # fmt: skip
    return out


def _quantiles(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100)
    return {"p50": round(q[49], 2), "p95": round(q[94], 2), "p99": round(q[98], 2),
            "max": round(max(values), 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--url", default=None, help="Store URL (default: a SQLite file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{Path('/tmp') / f'dedupe_online_{args.n}.db'}"
    engine = engine_for(url)
    upgrade(engine)
    factory = get_session_factory(engine)
    with factory() as s:
        have = int(s.scalar(select(func.count()).select_from(Person)) or 0)
    if have == 0:
        t = time.perf_counter()
        fill(url, args.n)
        print(f"filled in {time.perf_counter() - t:.0f} s", flush=True)
    with factory.begin() as s:
        t = time.perf_counter()
        persons, rows = index_missing(s)
    if persons:
        print(f"index: {rows:,} keys for {persons:,} persons in {time.perf_counter() - t:.0f} s")
    with factory() as s:
        total = int(s.scalar(select(func.count()).select_from(Person)) or 0)
        keys = int(s.scalar(select(func.count()).select_from(PersonMatchKey)) or 0)
        probes = _probes(s, args.checks, seed=3)
        for data in probes[:20]:  # warm-up: the model and the statements are cached
            find_candidates(s, data)
        wall: list[float] = []
        cpu: list[float] = []
        found = 0
        for data in probes:
            s.expire_all()
            t, c = time.perf_counter(), time.process_time()
            result = find_candidates(s, data)
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            found += bool(result)
    out = {
        "persons": total,
        "match_keys": keys,
        "checks": len(wall),
        "with_candidates": found,
        "wall_ms": _quantiles(wall),
        "cpu_ms": _quantiles(cpu),
        "backend": engine.dialect.name,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(out) if args.json else out)


if __name__ == "__main__":
    main()
