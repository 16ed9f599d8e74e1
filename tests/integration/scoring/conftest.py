"""Fixtures of the scoring tests: persons with orders written straight to the store."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.scoring.models import PersonScore
from closedloop.transactions.models import Order

AS_OF = date(2026, 11, 22)

#: An order as (day, amount) or a dict with ``day``, ``amount`` and any other Order field.
OrderSpec = tuple[date, float] | dict[str, Any]


def _order(person_id: int, spec: OrderSpec, n: int) -> Order:
    fields: dict[str, Any] = (
        {"day": spec[0], "amount": spec[1]} if isinstance(spec, tuple) else dict(spec)
    )
    day = fields.pop("day")
    amount = fields.pop("amount")
    at = fields.pop("at", None) or datetime(day.year, day.month, day.day, 10, 30, tzinfo=UTC)
    return Order(
        person_id=person_id,
        ordered_at=at + timedelta(seconds=n),
        total_amount=Decimal(str(round(amount, 2))),
        currency=fields.pop("currency", "EUR"),
        status=fields.pop("status", "completed"),
        **fields,
    )


@pytest.fixture()
def shop(factory: sessionmaker[Session]) -> Callable[..., int]:
    """``shop(orders, **person_fields)`` stores a person with their orders; returns the id."""

    def make(orders: Sequence[OrderSpec] = (), **fields: Any) -> int:
        with unit_of_work(factory) as s:
            person = Person(given_name=fields.pop("given_name", "Test"), **fields)
            s.add(person)
            s.flush()
            s.add_all([_order(person.id, spec, i) for i, spec in enumerate(orders)])
            return person.id

    return make


@pytest.fixture()
def population(factory: sessionmaker[Session]) -> Callable[..., list[int]]:
    """``population(n, seed)`` stores ``n`` buyers drawn from a BG/NBD-like process over three
    years before :data:`AS_OF` (seeded), and returns their ids."""

    def make(n: int = 400, seed: int = 7) -> list[int]:
        rng = np.random.default_rng(seed)
        start = AS_OF - timedelta(days=3 * 365)
        ids: list[int] = []
        with unit_of_work(factory) as s:
            persons = [Person(given_name=f"P{i}") for i in range(n)]
            s.add_all(persons)
            s.flush()
            orders: list[Order] = []
            for person in persons:
                first = int(rng.integers(0, 3 * 365 - 30))
                rate = rng.gamma(0.8, 1 / 20)  # purchases per day while alive
                drop = rng.beta(1.2, 6.0)
                spend = rng.gamma(4.0, 20.0)
                day = first
                while day <= 3 * 365:
                    amount = max(1.0, rng.gamma(6.0, spend / 6.0))
                    orders.append(_order(person.id, (start + timedelta(days=day), amount), 0))
                    if rng.random() < drop:
                        break
                    day += max(1, math.ceil(rng.exponential(1 / max(rate, 1e-3))))
                ids.append(person.id)
            s.add_all(orders)
        return ids

    return make


@pytest.fixture()
def stored_scores(engine: Engine) -> Callable[[int], dict[int, PersonScore]]:
    """The scores of a run, by person id."""

    def read(run_id: int) -> dict[int, PersonScore]:
        with Session(engine) as s:
            rows = s.scalars(select(PersonScore).where(PersonScore.run_id == run_id))
            return {row.person_id: row for row in rows}

    return read


def _assert_all_finite(scores: dict[int, PersonScore]) -> None:
    for score in scores.values():
        for name in (
            "monetary",
            "p_alive",
            "expected_30",
            "expected_90",
            "expected_365",
            "expected_spend",
            "clv",
            "revenue",
        ):
            value = getattr(score, name)
            if value is not None:
                assert math.isfinite(float(value)), (score.person_id, name, value)


@pytest.fixture()
def assert_finite() -> Callable[[dict[int, PersonScore]], None]:
    """A check that no stored number of the scores is NaN or infinite (NULL is allowed)."""
    return _assert_all_finite
