"""Evaluate rules and segments inside the caller's session.

:func:`count` and :func:`rule_member_ids` compile a rule (:mod:`.compiler`) to the SQL of the
session's database and run it on the session's own connection, so they see what the caller's
transaction wrote. :func:`member_ids` is what campaigns use: a dynamic segment's rule
evaluated now, or a snapshot's frozen members (which followed merges since the freeze).
Ibis is imported here only when a rule is evaluated: importing the package stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from closedloop.db.base import utcnow
from closedloop.errors import ValidationFailed
from closedloop.segments.check import parse_rules
from closedloop.segments.models import SegmentMember
from closedloop.segments.rules import Rule

#: Ibis dialect names of the SQLAlchemy dialects the store runs on.
DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "duckdb": "duckdb"}


def as_rule(rules: Rule | Mapping[str, Any]) -> Rule:
    """A checked rule tree from a JSON document (or the tree itself)."""
    if isinstance(rules, Mapping):
        return parse_rules(dict(rules))
    return rules


def compile_sql(
    session: Session, rules: Rule | Mapping[str, Any], *, what: str = "ids",
    today: date | None = None, dialect: str | None = None, within: int | None = None,
    limit: int | None = None, offset: int = 0,
) -> str:  # fmt: skip
    """The SQL the store runs for a rule: ``what`` is ``ids`` (the person ids, in order; a
    page of them with ``limit`` and ``offset``) or ``count``. Names in the rule are looked up
    in ``session``'s database; ``within`` is the segment whose rule this is (it may not refer
    to itself)."""
    import ibis

    from closedloop.segments.compiler import Compiler
    from closedloop.segments.lookups import SessionLookups

    rule = as_rule(rules)
    compiler = Compiler(SessionLookups(session), today or utcnow().date(), within=within)
    members = compiler.members(rule)
    expr = members.count() if what == "count" else members.order_by("person_id")
    if what != "count" and (limit is not None or offset):
        expr = expr.limit(limit, offset=offset)
    name = dialect or DIALECTS[session.get_bind().dialect.name]
    return str(ibis.to_sql(expr, dialect=name))


def _run(session: Session, sql: str) -> Any:
    # The statement goes to the driver as it is: Ibis quoted every value; no parameters are
    # passed, so the driver reads no placeholders (":x", "%s", "?") inside quoted values.
    try:
        return session.connection().exec_driver_sql(sql)
    except OperationalError as exc:
        if "stack" not in str(exc.orig).lower() and "too complex" not in str(exc.orig).lower():
            raise
        raise ValidationFailed(
            "The segment rule is too complex for the database: nest fewer groups.",
            errors=[{"field": "rule", "message": "too deeply nested for the database"}],
        ) from exc


def count(session: Session, rules: Rule | Mapping[str, Any], *, today: date | None = None) -> int:
    """How many golden persons match ``rules`` now (a JSON document or a parsed tree).

    Raises ValidationFailed naming the rule path of any mistake.
    """
    session.flush()
    result = _run(session, compile_sql(session, rules, what="count", today=today))
    return int(result.scalar() or 0)


def rule_member_ids(
    session: Session, rules: Rule | Mapping[str, Any], *, today: date | None = None
) -> list[int]:
    """The ids of the golden persons matching ``rules`` now, in increasing order."""
    session.flush()
    result = _run(session, compile_sql(session, rules, what="ids", today=today))
    return [int(row[0]) for row in result]


def member_page(
    session: Session, segment_id: int, *, limit: int, offset: int = 0, today: date | None = None
) -> tuple[list[int], int]:
    """One page of segment ``segment_id``'s members (increasing ids) and how many there are,
    both counted and paged by the database (a snapshot's frozen list, a dynamic rule now)."""
    from sqlalchemy import func

    from closedloop.segments.service import SNAPSHOT, get_segment

    segment = get_segment(session, segment_id)
    if segment.kind == SNAPSHOT:
        where = SegmentMember.segment_id == segment.id
        total = session.scalar(select(func.count()).select_from(SegmentMember).where(where))
        stmt = (select(SegmentMember.person_id).where(where)
                .order_by(SegmentMember.person_id).limit(limit).offset(offset))  # fmt: skip
        return [int(pid) for pid in session.scalars(stmt)], int(total or 0)
    session.flush()
    rules = segment.rules or {"all": []}
    day = today or utcnow().date()
    sql = compile_sql(session, rules, today=day, limit=limit, offset=offset, within=segment.id)
    ids = [int(row[0]) for row in _run(session, sql)]
    total = _run(session, compile_sql(session, rules, what="count", today=day, within=segment.id))
    return ids, int(total.scalar() or 0)


def member_ids(session: Session, segment_id: int, *, today: date | None = None) -> list[int]:
    """The members of segment ``segment_id`` in increasing id order: a dynamic segment's rule
    evaluated now; a snapshot's frozen members (merged ones replaced by their golden record
    when the merge happened, erased ones gone). NotFound when there is no such segment."""
    from closedloop.segments.service import SNAPSHOT, get_segment

    segment = get_segment(session, segment_id)
    if segment.kind == SNAPSHOT:
        stmt = (
            select(SegmentMember.person_id)
            .where(SegmentMember.segment_id == segment.id)
            .order_by(SegmentMember.person_id)
        )
        return [int(pid) for pid in session.scalars(stmt)]
    session.flush()
    sql = compile_sql(session, segment.rules or {"all": []}, today=today, within=segment.id)
    return [int(row[0]) for row in _run(session, sql)]
