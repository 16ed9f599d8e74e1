"""The waves of the shared campaign calendar (:mod:`closedloop.campaigns.calendar`) and their
volume per channel: the send ledger by channel once extracted; before, the planned volume
(``expected_volume``, else the size of a snapshot target) split over the cells' channels by
their shares (control cells send nothing). Also whether two targets share persons.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.campaigns import coordination as co
from closedloop.campaigns.coordination_models import CampaignTargeting
from closedloop.campaigns.models import Campaign, Cell, Communication, Wave
from closedloop.db.base import as_utc
from closedloop.segments import SNAPSHOT, Segment
from closedloop.vocab import CampaignStatus
from closedloop.vocab import CommunicationStatus as St

UNSENT = (St.SKIPPED.value, St.SUPPRESSED.value)


@dataclass
class WaveEntry:
    """A wave on the calendar."""

    campaign_id: int
    code: str
    version: int
    campaign: str
    status: str
    priority: int
    wave_id: int
    wave: str
    wave_status: str
    at: datetime | None
    day: date
    segment_id: int | None
    volumes: dict[str, int]
    extracted: bool

    @property
    def active(self) -> bool:
        """Whether it still counts (not cancelled)."""
        cancelled = CampaignStatus.CANCELLED.value
        return self.status != cancelled and self.wave_status != cancelled


def _volumes(
    session: Session,
    waves: list[Wave],
    campaigns: dict[int, Campaign],
    targets: dict[int, int | None],
) -> dict[int, tuple[dict[str, int], bool]]:
    ids = [w.id for w in waves]
    ledger: dict[int, dict[str, int]] = defaultdict(dict)
    if ids:
        rows = session.execute(
            select(Communication.wave_id, Communication.channel, func.count())
            .where(Communication.wave_id.in_(ids), Communication.status.not_in(UNSENT))
            .group_by(Communication.wave_id, Communication.channel)
        )
        for wave_id, channel, n in rows:
            ledger[wave_id or 0][channel] = n
    cells: dict[int, list[Cell]] = defaultdict(list)
    for cell in session.scalars(select(Cell).where(Cell.campaign_id.in_(set(campaigns)))):
        cells[cell.campaign_id].append(cell)
    sizes: dict[int, int | None] = {
        row.id: row.frozen_count
        for row in session.execute(
            select(Segment.id, Segment.frozen_count).where(
                Segment.id.in_({t for t in targets.values() if t}), Segment.kind == SNAPSHOT
            )
        )
    }
    out = {}
    for w in waves:
        if ledger.get(w.id):
            out[w.id] = (dict(ledger[w.id]), True)
            continue
        planned = w.expected_volume
        if planned is None:
            planned = sizes.get(targets.get(w.campaign_id) or 0) or 0
        shares: dict[str, float] = defaultdict(float)
        for c in cells[w.campaign_id]:
            if not c.is_control and c.channel:
                shares[c.channel] += c.share
        out[w.id] = ({ch: round(planned * s) for ch, s in shares.items()}, False)
    return out


def entries(session: Session, start: date, end: date) -> list[WaveEntry]:
    """The waves whose day (their time, else their campaign's start) falls in the range."""
    lo = datetime.combine(start, time(), tzinfo=UTC)
    hi = datetime.combine(end, time(), tzinfo=UTC)
    dated = Wave.scheduled_at.is_not(None) & (Wave.scheduled_at >= lo) & (Wave.scheduled_at < hi)
    undated = (
        Wave.scheduled_at.is_(None) & (Campaign.starts_on >= start) & (Campaign.starts_on < end)
    )
    rows = session.execute(
        select(Wave, Campaign)
        .join(Campaign, Campaign.id == Wave.campaign_id)
        .where(dated | undated)
        .order_by(Wave.scheduled_at, Wave.id)
    ).all()
    campaigns = {c.id: c for _w, c in rows}
    targets: dict[int, int | None] = {cid: None for cid in campaigns}
    for t in session.scalars(
        select(CampaignTargeting).where(CampaignTargeting.campaign_id.in_(set(campaigns)))
    ):
        targets[t.campaign_id] = t.segment_id
    volumes = _volumes(session, [w for w, _c in rows], campaigns, targets)
    out = []
    for w, c in rows:
        at = as_utc(w.scheduled_at) if w.scheduled_at else None
        day = at.date() if at else c.starts_on
        assert day is not None
        vols, extracted = volumes[w.id]
        out.append(
            WaveEntry(
                c.id,
                c.code,
                c.version,
                c.name,
                c.status,
                c.priority,
                w.id,
                w.name,
                w.status,
                at,
                day,
                targets[c.id],
                vols,
                extracted,
            )
        )
    return out


class Overlap:
    """Whether two targets share persons (members read once per segment)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.members: dict[int, set[int]] = {}

    def __call__(self, a: int | None, b: int | None) -> bool:
        if a is None or b is None:
            return False
        if a == b:
            return True
        for s in (a, b):
            if s not in self.members:
                self.members[s] = set(co.segment_audience(self.session, s).ids)
        return not self.members[a].isdisjoint(self.members[b])
