"""Use cases of evaluation: a campaign's report. Each takes a session and writes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from closedloop.db.base import utcnow
from closedloop.errors import NotFound, ValidationFailed
from closedloop.evaluation import queries
from closedloop.evaluation.attribution import Attribution, Outcome, Rule, attribute
from closedloop.evaluation.report import (
    NO_CONTROL,
    NO_EFFECT,
    NOT_FINAL,
    Group,
    Report,
    Winner,
    group,
    lift,
    merged,
)
from closedloop.evaluation.stats import CORRECTION, holm, two_proportions
from closedloop.vocab import CampaignStatus as CS

#: the metric the A/B winner is chosen on
WINNER_METRIC = "conversion rate (bought in the response window, of members)"


def parse_rule(value: str | None) -> Rule:
    """The attribution rule named ``value`` (last-touch when empty); ValidationFailed otherwise."""
    if not value:
        return Rule.LAST_TOUCH
    try:
        return Rule(value)
    except ValueError:
        names = ", ".join(r.value for r in Rule)
        raise ValidationFailed(
            f"Unknown attribution rule {value!r}: use one of {names}.",
            errors=[{"field": "rule", "message": f"one of {names}"}],
        ) from None


def _winner(treated: list[Group]) -> Winner | None:
    """The best treated cell on conversion and its Holm-corrected comparisons with the others."""
    testable = [g for g in treated if g.members]
    if len(testable) < 2:
        return None
    best = max(testable, key=lambda g: (g.converted / g.members, -(g.cell_id or 0)))
    others = [g for g in testable if g is not best]
    tests = [two_proportions(best.converted, best.members, g.converted, g.members) for g in others]
    adjusted = holm([t.p_value for t in tests])
    comparisons = [
        {
            "against": g.label,
            "cell_id": g.cell_id,
            "diff": t.diff,
            "ci": (t.ci_low, t.ci_high),
            "p_value": t.p_value,
            "p_adjusted": p,
        }
        for g, t, p in zip(others, tests, adjusted, strict=True)
    ]
    significant = all(p is not None and p < 0.05 for p in adjusted)
    return Winner(
        WINNER_METRIC, best.cell_id or 0, best.label, significant, CORRECTION, comparisons
    )


def _verdict(total: Group, control: Group | None) -> str:
    if control is None or total.lift is None:
        return NO_CONTROL
    conv, rev = total.lift.conversion, total.lift.revenue_per_person
    if not total.lift.significant:
        return NO_EFFECT
    if conv.diff < 0 and (conv.significant or rev.significant):
        return "the campaign did harm: its members bought less than the control group"
    return (
        f"the campaign worked: conversion {conv.rate1:.2%} against {conv.rate0:.2%} in the "
        f"control group (+{conv.diff * 100:.2f} points, 95 % CI {conv.ci_low * 100:.2f} to "
        f"{conv.ci_high * 100:.2f}), about {total.lift.incremental_revenue:,.2f} of revenue added"
    )


def _waves(
    session: Session,
    campaign_id: int,
    times: dict[int, queries.WaveTimes],
    cells: dict[int, tuple[str, bool, float]],
    found: Attribution,
    control: Group | None,
    counted: queries.Counted,
) -> list[dict[str, object]]:
    """Per wave: each treated cell's funnel and credited purchases, against the control
    group's purchases credited to the same wave by the same rule."""
    funnels = queries.funnels(session, campaign_id, counted, by_wave=True)
    out: list[dict[str, object]] = []
    for wave_id, t in times.items():
        parts = [
            group(
                label,
                funnels[(cell_id, wave_id)],
                found.by_wave.get((cell_id, wave_id), Outcome()),
                is_control=False,
                unit_cost=cost,
                cell_id=cell_id,
                wave_id=wave_id,
            )
            for cell_id, (label, is_control, cost) in cells.items()
            if not is_control and (cell_id, wave_id) in funnels
        ]
        total = merged(f"{t.name}: treated", parts, is_control=False)
        base = None
        if control is not None:
            credited = [
                found.by_wave.get((c, wave_id), Outcome()) for c, v in cells.items() if v[1]
            ]
            base = Group(
                f"{t.name}: control",
                True,
                members=control.members,
                converted=sum(o.converted for o in credited),
                revenue=sum(o.revenue for o in credited),
                revenue_sq=sum(o.revenue_sq for o in credited),
            )
            total.lift = lift(total, base)
        out.append(
            {
                "wave_id": wave_id,
                "name": t.name,
                "start": t.start,
                "total": total,
                "control_converted": base.converted if base else None,
                "cells": parts,
            }
        )
    return out


def evaluate(
    session: Session, campaign_id: int, *, rule: Rule = Rule.LAST_TOUCH, now: datetime | None = None
) -> Report:
    """Evaluate campaign ``campaign_id``: per cell and wave its funnel (contacted, delivered,
    opened, clicked, responded, converted, revenue), rates, cost, and its lift against the
    control group with 95 % intervals and p-values; the A/B winner between treated cells
    (Holm-corrected); a plain verdict. Purchases are attributed by ``rule``. The funnel comes
    from the campaign's counters; when they are found stale (rows written behind the
    sender's and the capture's back) it is counted from the rows and the report says so
    (``counters_stale`` and a note). NotFound when the campaign does not exist."""
    campaign = queries.campaign(session, campaign_id)
    if campaign is None:
        raise NotFound(f"Campaign {campaign_id} does not exist.")
    now = now or utcnow()
    window = timedelta(days=campaign.response_window_days)
    times = queries.wave_times(session, campaign_id)
    starts = [t.start for t in times.values() if t.start is not None]
    lasts = [t.last for t in times.values() if t.last is not None]
    low = min(starts) if starts else None
    high = max(lasts) + window if lasts else None
    found = Attribution(rule)
    if low is not None and high is not None:
        bought, sent = queries.buyers(session, campaign_id, low, high)
        found = attribute(bought, sent, times, campaign.response_window_days, rule)
    counted = queries.counted(session, campaign_id)
    funnels = queries.funnels(session, campaign_id, counted, by_wave=False)
    cells = {
        c.id: (f"{c.code} {c.name}", c.is_control, float(c.unit_cost or 0))
        for c in queries.cells(session, campaign_id)
    }
    groups = [
        group(
            label,
            funnels.get((cid, 0), queries.Funnel()),
            found.by_cell.get(cid, Outcome()),
            is_control=is_control,
            unit_cost=cost,
            cell_id=cid,
        )
        for cid, (label, is_control, cost) in cells.items()
    ]
    treated = [g for g in groups if not g.is_control]
    controls = [g for g in groups if g.is_control]
    control = merged("control", controls, is_control=True) if controls else None
    if control is not None and control.members == 0:
        control = None
    total = merged("all treated cells", treated, is_control=False)
    if control is not None:
        total.lift = lift(total, control)
        for g in treated:
            g.lift = lift(g, control)
        adjusted = holm([g.lift.conversion.p_value if g.lift else None for g in treated])
        for g, p in zip(treated, adjusted, strict=True):
            if g.lift is not None:
                g.lift.p_adjusted = p
    running = campaign.status in (CS.RUNNING.value, CS.SCHEDULED.value, CS.PAUSED.value)
    final = high is not None and now >= high and not running
    notes = [
        f"attribution: {rule.value}, purchases within {campaign.response_window_days} days of a "
        "message (control members: of each wave's start)",
        f"lift per cell: two-proportion z-test on conversion and Welch's t-test on revenue per "
        f"person, 95 % intervals; conversion p-values across cells corrected by {CORRECTION}",
    ]
    if not final:
        notes.insert(0, NOT_FINAL)
    if counted.stale:  # after "not final" when both are said
        notes.insert(0 if final else 1, queries.STALE.format(id=campaign.id))
    verdict = _verdict(total, control)
    if not final and verdict != NO_CONTROL:
        verdict = f"{verdict} (so far — {NOT_FINAL.split(':')[0]})"
    return Report(
        campaign.id,
        campaign.code,
        campaign.name,
        campaign.status,
        campaign.currency,
        rule.value,
        campaign.response_window_days,
        low,
        high,
        final,
        verdict,
        notes,
        CORRECTION,
        total,
        control,
        groups,
        _waves(session, campaign_id, times, cells, found, control, counted),
        _winner(treated),
        counted.stale,
    )
