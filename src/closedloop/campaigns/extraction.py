"""Extraction of a wave: from the campaign's target segment to ``queued`` messages (M12, M13).

The funnel, in order — each person leaves at the first stage that stops them, and the stage and
reason are stored (``extraction_exclusions``) so the funnel can be read back:

``target`` → ``holdout`` (global long-term hold-out) → assignment to cells (``no_cell``: in
none of the segments the campaign's cells treat, when each cell has its own; ``control``: held
out by the campaign's control group; ``ab_pending``: waiting for an A/B winner) → ``consent``
→ ``suppression`` → ``no_address`` → ``household`` (one person per household, when asked)
→ ``pressure`` → ``arbitration`` (a concurrent wave of a higher campaign keeps the person)
→ ``capacity`` (of the channel in the period) → ``queued`` (the send ledger the sender works
from).

Control-group persons are checked for consent and suppression on the channel of the
campaign's first treatment cell, so the control group stays comparable with the contacted
group. Extraction runs inside the caller's transaction and takes the coordination lock first
(:func:`closedloop.campaigns.coordination.take_lock`): call it before anything else in that
transaction. Extracting a wave again adds the persons that became eligible (e.g. after an A/B
winner is known) and never queues a person twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from closedloop.campaigns import arbitration as arb
from closedloop.campaigns import coordination as co
from closedloop.campaigns import pressure, situations
from closedloop.campaigns.assignment import assign, get_global_holdout, unit_hashes
from closedloop.campaigns.bulk import db_time, insert_groups
from closedloop.campaigns.bulk import rows as rows_of
from closedloop.campaigns.coordination_models import CampaignTargeting, Exclusion
from closedloop.campaigns.models import Campaign, Cell, Communication, Wave
from closedloop.campaigns.reach import reach, unreachable
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import Conflict, NotFound
from closedloop.segments import member_ids
from closedloop.vocab import Channel, Purpose
from closedloop.vocab import CommunicationStatus as St

#: the columns of a queued message but its person (one value for a whole group of persons)
_COMM_COLUMNS = ("campaign_id", "wave_id", "cell_id", "channel", "status", "attempts",
                 "created_at")  # fmt: skip
#: The funnel's exclusion stages, in order.
STAGES = ("holdout", "no_cell", "control", "ab_pending", "consent", "suppression", "no_address",
          "household", "pressure", "arbitration", "capacity")  # fmt: skip


@dataclass
class ExtractionResult:
    """What one extraction of a wave did."""

    wave_id: int
    campaign_id: int
    target: int = 0
    queued: int = 0
    already_queued: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    by_cell: dict[str, int] = field(default_factory=dict)
    withdrawn_from_other_waves: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready values."""
        return asdict(self)


@dataclass
class _Run:
    """The state of one extraction as it moves down the funnel."""

    wave: Wave
    campaign: Campaign
    targeting: CampaignTargeting
    at: datetime
    out: dict[int, tuple[str, str]] = field(default_factory=dict)

    def exclude(self, pid: int, stage: str, reason: str) -> None:
        self.out[pid] = (stage, reason)


def _load(session: Session, wave_id: int) -> tuple[Wave, Campaign, CampaignTargeting, list[Cell]]:
    wave = session.get(Wave, wave_id)
    if wave is None:
        raise NotFound(f"Wave {wave_id} does not exist.")
    campaign = session.get(Campaign, wave.campaign_id)
    assert campaign is not None  # the foreign key holds
    targeting = session.get(CampaignTargeting, campaign.id)
    if targeting is None or targeting.segment_id is None:
        raise Conflict(
            f"Campaign {campaign.code} has no target segment: set one "
            f"(closedloop campaigns target {campaign.code} --segment ID)."
        )
    cells = list(session.scalars(select(Cell).where(Cell.campaign_id == campaign.id)))
    for cell in cells:
        if not cell.is_control and not cell.channel:
            raise Conflict(f"Cell {cell.code} of campaign {campaign.code} has no channel.")
    if not any(not c.is_control for c in cells):
        raise Conflict(f"Campaign {campaign.code} has no treatment cell (only control cells).")
    return wave, campaign, targeting, cells


def extract_wave(
    session: Session, wave_id: int, *, now: datetime | None = None
) -> ExtractionResult:
    """Extract wave ``wave_id``: assign its campaign's target to cells, apply the funnel and
    queue one message per remaining person. NotFound for no such wave; Conflict when the
    campaign has no target segment or a cell cannot send."""
    co.take_lock(session)
    session.flush()
    wave, campaign, targeting, cells = _load(session, wave_id)
    at = as_utc(wave.scheduled_at) if wave.scheduled_at else as_utc(now or utcnow())
    run = _Run(wave, campaign, targeting, at)
    result = ExtractionResult(wave.id, campaign.id)
    audience = co.segment_audience(session, targeting.segment_id or 0)
    result.target = len(audience.ids)
    session.execute(delete(Exclusion).where(Exclusion.wave_id == wave.id))
    already: set[int] = set()
    for cond in audience.filters(Communication.person_id):
        already |= set(pid for (pid,) in rows_of(session,
            select(Communication.person_id).where(Communication.wave_id == wave.id, cond)
        ))  # fmt: skip
    result.already_queued = len(already)
    holdout = get_global_holdout(session)
    todo = [pid for pid in audience.ids if pid not in already]
    if holdout is not None:  # as in_global_holdout, in one loop
        held = {pid for pid, u in zip(todo, unit_hashes(holdout.salt, todo), strict=True)
                if u * 100 < holdout.percentage}  # fmt: skip
        for pid in held:
            run.exclude(pid, "holdout", "in the global long-term hold-out")
        todo = [pid for pid in todo if pid not in held]
    value_of = co.values(session, audience)
    tiers = {pid: v.tier for pid, v in value_of.items()}
    cell_members = {c.id: set(member_ids(session, c.segment_id)) for c in cells if c.segment_id}
    cell_of = assign(session, campaign.id, cells, todo, targeting, tiers, cell_members)
    reference = Channel(next(c.channel for c in sorted(cells, key=lambda c: c.id)
                             if not c.is_control and c.channel))  # fmt: skip
    channel_of: dict[int, Channel] = {}
    for pid in todo:
        if pid not in cell_of:
            run.exclude(pid, "no_cell", "in none of the segments its campaign's cells treat")
            continue
        cell = cell_of[pid]
        if cell is None:
            run.exclude(pid, "ab_pending", "in the A/B test's remainder: waits for the winner")
        else:
            channel_of[pid] = Channel(cell.channel) if cell.channel else reference
    _consent(session, run, audience, channel_of)
    live = [pid for pid in todo if pid not in run.out]
    for pid in live:
        cell = cell_of[pid]
        if cell is not None and cell.is_control:
            run.exclude(pid, "control", f"control group {cell.code}")
    live = [pid for pid in live if pid not in run.out]
    if targeting.one_per_household:
        left_out = co.one_per_household(live, co.households(session, audience), value_of)
        for pid, other in left_out.items():
            run.exclude(pid, "household", f"one per household: person {other} is addressed")
        live = [pid for pid in live if pid not in run.out]
    live, winners = _coordinate(session, run, audience, live, channel_of, tiers)
    live = _capacity(session, run, live, channel_of, value_of)
    losers = {pid: winners[pid] for pid in live if pid in winners}
    kept = arb.withdraw(session, losers, campaign.code)
    result.withdrawn_from_other_waves = sum(len(rs) for pid, rs in losers.items() if pid in kept)
    for pid in losers:
        if pid not in kept:
            run.exclude(pid, "arbitration", "another campaign's message is already being sent")
    live = [pid for pid in live if pid not in run.out]
    _queue(session, run, live, cell_of, channel_of, result)
    _log(session, run, result)
    return result


def _consent(
    session: Session, run: _Run, audience: co.Audience, channel_of: dict[int, Channel]
) -> None:
    purpose = Purpose(run.campaign.purpose)
    for channel in sorted(set(channel_of.values())):
        persons = [pid for pid, ch in channel_of.items() if ch is channel]
        why: dict[int, tuple[str, str] | None] = {}  # per distinct verdict (shared objects)
        for pid, r in reach(session, audience, persons, channel, purpose).items():
            if id(r) not in why:
                why[id(r)] = unreachable(r, channel)
            out = why[id(r)]
            if out is not None:
                run.out[pid] = out


def _coordinate(
    session: Session,
    run: _Run,
    audience: co.Audience,
    live: list[int],
    channel_of: dict[int, Channel],
    tiers: dict[int, str | None],
) -> tuple[list[int], dict[int, list[arb.Rival]]]:
    """Pressure and arbitration: the persons kept, and the competitors each of them beats."""
    if not live:
        return live, {}
    rules = pressure.active_rules(session)
    span = max(pressure.horizon(rules), arb.CONCURRENT)
    around: dict[int, list[tuple[situations.Entry, int]]] = {}
    entries: dict[tuple[Any, ...], situations.Entry] = {}
    for cond in audience.filters(Communication.person_id):
        situations.read(session, cond, run.campaign.id, run.at, span, around, entries)
    mine = arb.campaign_rank(session, run.campaign.id)
    channels = {pid: channel_of[pid].value for pid in live}
    out, beats = situations.decide_all(rules, live, tiers, channels, around, mine, run.at,
                                       run.targeting.weight)  # fmt: skip
    run.out.update(out)
    return [pid for pid in live if pid not in run.out], beats


def _capacity(
    session: Session,
    run: _Run,
    live: list[int],
    channel_of: dict[int, Channel],
    value_of: dict[int, co.Value],
) -> list[int]:
    for channel in sorted({channel_of[pid] for pid in live}):
        left = co.capacity_left(session, channel.value, run.at)
        if left is None:
            continue
        room, period = left
        persons = [pid for pid in live if channel_of[pid] is channel]
        persons.sort(key=lambda pid: co._rank(pid, value_of))  # the most valuable first
        for pid in persons[room:]:
            run.exclude(pid, "capacity", f"{channel.value} capacity of {period} is used up")
    return [pid for pid in live if pid not in run.out]


def _queue(
    session: Session,
    run: _Run,
    live: list[int],
    cell_of: dict[int, Cell | None],
    channel_of: dict[int, Channel],
    result: ExtractionResult,
) -> None:
    groups: dict[tuple[Any, ...], list[int]] = {}  # (…, cell, channel, …) → persons
    per_cell: Counter[str] = Counter()
    created = db_time(session, run.at if run.wave.scheduled_at is None else utcnow())
    queued, campaign_id, wave_id = St.QUEUED.value, run.campaign.id, run.wave.id
    for pid in live:
        cell = cell_of[pid]
        assert cell is not None
        per_cell[cell.code] += 1
        key = (campaign_id, wave_id, cell.id, channel_of[pid].value, queued, 0, created)
        found = groups.get(key)
        if found is None:
            groups[key] = [pid]
        else:
            found.append(pid)
    table = Communication.__table__
    insert_groups(session, table, _COMM_COLUMNS, "person_id", groups)  # type: ignore[arg-type]
    result.queued = len(live)
    result.by_cell = dict(per_cell)


def _log(session: Session, run: _Run, result: ExtractionResult) -> None:
    now = db_time(session, utcnow())
    by_reason: dict[tuple[str, str], list[int]] = {}  # most persons share a few reasons
    for pid, why in run.out.items():
        found = by_reason.get(why)
        if found is None:
            by_reason[why] = [pid]
        else:
            found.append(pid)
    groups = {(run.wave.id, stage, reason[:300], now): pids
              for (stage, reason), pids in by_reason.items()}  # fmt: skip
    columns = ("wave_id", "stage", "reason", "created_at")
    insert_groups(session, Exclusion.__table__, columns, "person_id", groups)  # type: ignore[arg-type]
    counts = Counter(stage for stage, _ in run.out.values())
    result.excluded = {stage: counts[stage] for stage in STAGES if counts[stage]}
    session.flush()
