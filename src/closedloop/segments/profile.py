"""The profile of a rule's members: size, value and tiers, age, region and gender, and how
many can be reached on each channel.

*Reachable* on a channel means: a granted consent for that channel and the marketing purpose,
no suppression of the person (for that channel or all) nor of the address, and a valid
address for it (a valid email; a valid mobile for SMS; a valid phone for calls; a valid postal
address — not suspect nor unknown — for letters). Every figure is one Ibis query over the
members (:mod:`.compiler`), run in the caller's session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from closedloop.db.base import utcnow
from closedloop.segments.evaluate import DIALECTS, _run, as_rule
from closedloop.segments.rules import Rule

#: Age bands of the profile: (label, lowest age, highest age).
AGE_BANDS = (("<25", 0, 24), ("25-34", 25, 34), ("35-44", 35, 44), ("45-54", 45, 54),
             ("55-64", 55, 64), ("65+", 65, 200))  # fmt: skip
#: Channels of the reachability figures, as consent names them.
CHANNELS = ("email", "sms", "phone", "letter")
#: How many regions the profile lists.
TOP_REGIONS = 10
MARKETING = "marketing"
#: The temporary table holding the members while their profile is read.
MEMBERS = "segment_profile_members"


@dataclass
class Profile:
    """What a segment looks like now."""

    size: int
    tiers: list[dict[str, Any]] = field(default_factory=list)
    value: dict[str, float] = field(default_factory=dict)
    ages: list[dict[str, Any]] = field(default_factory=list)
    genders: list[dict[str, Any]] = field(default_factory=list)
    regions: list[dict[str, Any]] = field(default_factory=list)
    reachable: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The profile as JSON."""
        return dict(self.__dict__)


def _reach(channel: str, members: Any) -> Any:
    from closedloop.segments.tables import table

    consent = table("consent_current")
    granted = consent.filter(
        consent.channel == channel, consent.purpose == MARKETING, consent.state == "granted"
    ).person_id
    sup = table("suppressions")
    blocked = sup.filter(sup.person_id.notnull(), sup.channel.isnull() | (sup.channel == channel))
    values = sup.filter(sup.value_key.notnull(), sup.channel.isnull() | (sup.channel == channel))
    if channel == "email":
        points = table("emails")
        points = points.filter(points.is_valid, ~points.address_key.isin(values.value_key))
    elif channel in ("sms", "phone"):
        points = table("phones")
        points = points.filter(points.is_valid, ~points.e164.isin(values.value_key))
        if channel == "sms":
            points = points.filter(points.line_type == "mobile")
    else:
        points = table("addresses")
        points = points.filter(points.is_valid, ~points.status.isin(["suspect", "unknown"]))
    return (
        members.person_id.isin(granted)
        & ~members.person_id.isin(blocked.person_id)
        & members.person_id.isin(points.filter(points.person_id.notnull()).person_id)
    )


def profile(
    session: Session, rules: Rule | Mapping[str, Any], *, today: date | None = None
) -> Profile:
    """The profile of the persons ``rules`` selects now (see the module's text)."""
    import ibis

    from closedloop.segments.compiler import Compiler
    from closedloop.segments.lookups import SessionLookups

    session.flush()
    day = today or utcnow().date()
    lookups = SessionLookups(session)
    members = Compiler(lookups, day).members(as_rule(rules))
    dialect = DIALECTS[session.get_bind().dialect.name]

    def rows(expr: Any) -> list[Any]:
        return list(_run(session, str(ibis.to_sql(expr, dialect=dialect))))

    # The rule is evaluated once into a temporary table; the figures read that table (the
    # orders aggregates of a rule would otherwise be computed again for every figure).
    drop = f"DROP TABLE IF EXISTS {MEMBERS}"
    _run(session, drop)
    ids = str(ibis.to_sql(members.select("person_id"), dialect=dialect))
    _run(session, f"CREATE TEMPORARY TABLE {MEMBERS} AS {ids}")
    try:
        return _figures(rows, lookups, day, ibis.table({"person_id": "int64"}, MEMBERS))
    finally:
        _run(session, drop)


def _figures(rows: Any, lookups: Any, day: date, members: Any) -> Profile:
    import ibis

    from closedloop.segments.leaves import years_before
    from closedloop.segments.tables import table

    persons = table("persons")
    joined = members.join(persons, members.person_id == persons.id)
    bands = [(joined.birth_date <= ibis.literal(years_before(day, lo), type="date"))
             & (joined.birth_date > ibis.literal(years_before(day, hi + 1), type="date"))
             for _label, lo, hi in AGE_BANDS]  # fmt: skip
    band = ibis.cases(*((b, label) for b, (label, _, _) in zip(bands, AGE_BANDS, strict=True)))
    people = joined.select(gender=joined.gender, band=band)
    genders = rows(people.group_by("gender").aggregate(n=people.count()))
    ages = dict(rows(people.group_by("band").aggregate(n=people.count())))
    reach = members.select(
        **{c: ibis.cases((_reach(c, members), 1), else_=0) for c in CHANNELS}
    ).aggregate(size=ibis._.count(), **{c: ibis._[c].sum() for c in CHANNELS})
    size, *reached = rows(reach)[0]
    result = Profile(size=int(size or 0))
    result.reachable = {c: int(n or 0) for c, n in zip(CHANNELS, reached, strict=True)}
    ordered = sorted(genders, key=lambda row: (row[0] is None, row[0] or ""))
    result.genders = [{"gender": g, "count": int(n)} for g, n in ordered]
    result.ages = [{"band": label, "count": int(ages.get(label, 0))} for label, _, _ in AGE_BANDS]
    result.ages.append({"band": None, "count": int(ages.get(None, 0))})
    addresses = table("addresses")
    placed = members.join(addresses, members.person_id == addresses.person_id)
    regions = placed.group_by(placed.region).aggregate(n=placed.person_id.nunique())
    result.regions = [
        {"region": r, "count": int(n)}
        for r, n in rows(regions.order_by([ibis.desc("n"), "region"]).limit(TOP_REGIONS))
    ]
    run = lookups.latest_run_id()
    if run is not None:
        scores = table("person_scores")
        mine = scores.filter(scores.run_id == run)
        scored = members.join(mine, members.person_id == mine.person_id)
        tiers = scored.group_by("tier").aggregate(
            n=scored.count(), clv=scored.clv.cast("float64").sum(),
            revenue=scored.revenue.cast("float64").sum(),
        ).order_by("tier")  # fmt: skip
        result.tiers = [
            {"tier": t, "count": int(n), "clv": float(c or 0), "revenue": float(r or 0)}
            for t, n, c, r in rows(tiers)
        ]
        result.value = {
            "clv": sum(t["clv"] for t in result.tiers),
            "revenue": sum(t["revenue"] for t in result.tiers),
        }
    return result
