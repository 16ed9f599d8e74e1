"""Build small bases for the segment tests with the ORM models (real rows, real database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from closedloop.consent.models import ConsentCurrent, ConsentEvent
from closedloop.contacts.models import Address, Person
from closedloop.scoring.models import PersonScore, ScoreRun
from closedloop.transactions.models import Order, OrderLine, Product, ProductCategory

TODAY = date(2026, 6, 15)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def person(s: Session, **kw: object) -> int:
    p = Person(**kw)
    s.add(p)
    s.flush()
    return p.id


def consent(
    s: Session, pid: int, channel: str = "email", purpose: str = "marketing", state: str = "granted"
) -> None:
    ev = ConsentEvent(
        person_id=pid,
        channel=channel,
        purpose=purpose,
        state=state,
        occurred_at=at(TODAY),
        method="import",
    )
    s.add(ev)
    s.flush()
    s.add(
        ConsentCurrent(
            person_id=pid,
            channel=channel,
            purpose=purpose,
            state=state,
            event_id=ev.id,
            since=at(TODAY),
        )
    )
    s.flush()


def score_run(s: Session, as_of: date = TODAY, status: str = "done") -> int:
    run = ScoreRun(status=status, as_of=at(as_of), params={})
    s.add(run)
    s.flush()
    return run.id


def score(s: Session, run_id: int, pid: int, **kw: object) -> None:
    s.add(PersonScore(run_id=run_id, person_id=pid, **kw))
    s.flush()


def category(s: Session, code: str, parent: int | None = None) -> int:
    c = ProductCategory(code=code, name=code, parent_id=parent)
    s.add(c)
    s.flush()
    return c.id


def product(s: Session, sku: str, category_id: int | None) -> int:
    p = Product(sku=sku, name=sku, category_id=category_id, unit_price=Decimal("10"))
    s.add(p)
    s.flush()
    return p.id


def order(
    s: Session,
    pid: int,
    day: date,
    lines: list[tuple[int, str]],
    *,
    status: str = "completed",
    supplier: str | None = None,
) -> int:
    total = sum(Decimal(a) for _, a in lines)
    o = Order(
        person_id=pid, ordered_at=at(day), total_amount=total, status=status, supplier=supplier
    )
    s.add(o)
    s.flush()
    for n, (prod, amount) in enumerate(lines, 1):
        s.add(
            OrderLine(
                order_id=o.id,
                line_no=n,
                product_id=prod,
                quantity=Decimal(1),
                unit_price=Decimal(amount),
                amount=Decimal(amount),
            )
        )
    s.flush()
    return o.id


def address(s: Session, pid: int, **kw: object) -> None:
    s.add(Address(person_id=pid, **kw))
    s.flush()
