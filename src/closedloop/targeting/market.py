"""Market analysis (M9): target markets for a category ranked by size × expected value ×
reachability, and a side-by-side profile of two segments with effect sizes.

A market is a country (of the person's address). Its expected value is the category's buy
rate over the last ``horizon_days`` times the mean category spend of its buyers; its
reachability the share of its persons a marketing campaign on the channel could extract:
the rule of :func:`closedloop.campaigns.reach.unreachable` (consent granted, no suppression of
the person nor of the address the channel would use, a valid address), so a person whose only
email address bounced is not counted. The score is size × expected value × reachability: the
category revenue a campaign there could reach.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns.coordination import Audience
from closedloop.campaigns.reach import reach, unreachable
from closedloop.contacts.models import Address
from closedloop.errors import NotFound, ValidationFailed
from closedloop.segments.evaluate import member_ids
from closedloop.segments.models import Segment
from closedloop.targeting.features import (
    FEATURES,
    category_ids,
    features_at,
    in_category,
    load_lines,
    person_ids,
)
from closedloop.vocab import Channel, Purpose


def markets(
    session: Session, category: str, *, horizon_days: int = 365, channel: str = "email"
) -> list[dict[str, Any]]:
    """Countries ranked by size × expected value × reachability for ``category``."""
    try:
        on = Channel(channel)
    except ValueError as exc:
        known = ", ".join(c.value for c in Channel)
        raise ValidationFailed(
            f"Unknown channel '{channel}' (one of {known}).",
            errors=[{"field": "channel", "message": "unknown channel"}],
        ) from exc
    cats = category_ids(session, category)
    lines = load_lines(session)
    persons = set(person_ids(session))
    country: dict[int, str] = {}
    for pid, code in session.execute(
        select(Address.person_id, Address.country).where(Address.person_id.is_not(None))
    ):
        if pid in persons and code and pid not in country:
            country[pid] = code
    reachable = reachable_persons(session, sorted(persons), on)
    spend: dict[int, float] = {}
    if not lines.empty:
        start = lines["ordered_at"].max() - timedelta(days=horizon_days)
        recent = lines[in_category(lines, cats) & (lines["ordered_at"] > start)]
        spend = {int(k): float(v) for k, v in recent.groupby("person_id")["amount"].sum().items()}
    groups: dict[str, list[int]] = {}
    for pid in persons:
        groups.setdefault(country.get(pid, "??"), []).append(pid)
    out = []
    for code, members in groups.items():
        buyers = [spend[p] for p in members if p in spend]
        rate = len(buyers) / len(members)
        value = rate * (sum(buyers) / len(buyers) if buyers else 0.0)
        reach = sum(1 for p in members if p in reachable) / len(members)
        out.append({"market": code, "persons": len(members), "buy_rate": round(rate, 4),
                    "expected_value": round(value, 2), "reachability": round(reach, 4),
                    "score": round(len(members) * value * reach, 2)})  # fmt: skip
    return sorted(out, key=lambda m: (-m["score"], m["market"]))


def reachable_persons(session: Session, ids: list[int], channel: Channel) -> set[int]:
    """Those of ``ids`` a marketing message on ``channel`` may reach, as campaign extraction
    decides it (:func:`closedloop.campaigns.reach.unreachable`)."""
    found = reach(session, Audience(ids), ids, channel, Purpose.MARKETING)
    return {pid for pid, r in found.items() if unreachable(r, channel) is None}


def _segment(session: Session, ref: str) -> Segment:
    found = session.scalars(select(Segment).where(Segment.name == ref)).first()
    if found is None and ref.isdigit():
        found = session.get(Segment, int(ref))
    if found is None:
        raise NotFound(f"Segment {ref} does not exist.")
    return found


def compare(session: Session, first: str, second: str) -> dict[str, Any]:
    """Side-by-side behaviour profile of two segments (by name or id): mean of each feature
    in each and Cohen's d (difference of means over the pooled standard deviation; |d| ≥ 0.5
    is a medium effect, ≥ 0.8 a large one)."""
    a, b = _segment(session, first), _segment(session, second)
    ids_a, ids_b = member_ids(session, a.id), member_ids(session, b.id)
    if not ids_a or not ids_b:
        raise ValidationFailed(
            "Both segments need members to be compared.",
            errors=[{"field": "segment", "message": "empty segment"}],
        )
    lines = load_lines(session)
    both = sorted(set(ids_a) | set(ids_b))
    end = lines["ordered_at"].max() + timedelta(seconds=1) if not lines.empty else None
    if end is None:
        raise ValidationFailed("There are no orders to profile.")
    feats = features_at(lines, both, lines["amount"] == lines["amount"], end)
    rows = []
    for name in FEATURES[:5]:
        xa, xb = feats.loc[ids_a, name].to_numpy(), feats.loc[ids_b, name].to_numpy()
        ma, mb = float(xa.mean()), float(xb.mean())
        va = float(xa.var(ddof=1)) if len(xa) > 1 else 0.0
        vb = float(xb.var(ddof=1)) if len(xb) > 1 else 0.0
        pooled = math.sqrt(
            ((len(xa) - 1) * va + (len(xb) - 1) * vb) / max(len(xa) + len(xb) - 2, 1)
        )
        d = (ma - mb) / pooled if pooled > 0 else 0.0
        size = (
            "large"
            if abs(d) >= 0.8
            else "medium"
            if abs(d) >= 0.5
            else "small"
            if abs(d) >= 0.2
            else "negligible"
        )
        rows.append({"feature": name, "first": round(ma, 2), "second": round(mb, 2),
                     "cohens_d": round(d, 3), "effect": size})  # fmt: skip
    return {"first": {"name": a.name, "persons": len(ids_a)},
            "second": {"name": b.name, "persons": len(ids_b)}, "features": rows}  # fmt: skip
