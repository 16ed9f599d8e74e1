"""Tests and control groups (M13): who of a campaign's audience goes to which cell.

Assignment is reproducible: a person's place comes from a seeded hash of (campaign, person),
never from ``random``, so extracting the same audience again gives the same cells, and it is
stored in ``campaign_members`` (the contact history keeps it). Cells split the audience by their
``share`` (control cells first, so a hold-out of 10 % is the persons whose hash is below 0.10).

* **Stratified by value tier**: within each tier the persons are ranked by their hash and the
  cells take their shares of the ranks, so every tier is split exactly in the cells' shares.
* **Global long-term hold-out**: persons whose hash under the hold-out's salt is below its
  percentage get no campaign at all (:func:`in_global_holdout`); persistent while the salt is.
* **A/B with an automatic winner**: only ``ab_test_share`` of the treatment audience is
  assigned to the test cells at first; the others wait (``None``) until the winner is known
  (:mod:`closedloop.campaigns.ab_test`), then go to the winner's cell.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns.bulk import db_time, insert_groups
from closedloop.campaigns.bulk import rows as rows_of
from closedloop.campaigns.coordination_models import CampaignTargeting, GlobalHoldout
from closedloop.campaigns.models import CampaignMember, Cell
from closedloop.db.base import utcnow
from closedloop.errors import Conflict, ValidationFailed

_CHUNK = 900
_SCALE = float(1 << 64)


def unit_hash(salt: str, person_id: int) -> float:
    """A number in [0, 1) fixed by ``salt`` and ``person_id`` (uniform, reproducible)."""
    digest = hashlib.blake2b(f"{salt}:{person_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def unit_hashes(salt: str, person_ids: Iterable[int]) -> list[float]:
    """:func:`unit_hash` of each of ``person_ids`` (the same numbers, computed in one loop)."""
    prefix, blake, number = f"{salt}:".encode(), hashlib.blake2b, int.from_bytes
    return [number(blake(prefix + b"%d" % pid, digest_size=8).digest()) / _SCALE
            for pid in person_ids]  # fmt: skip


def campaign_salt(campaign_id: int) -> str:
    """The seed of a campaign's assignment (its id: stable across runs and machines)."""
    return f"campaign:{campaign_id}"


@dataclass(frozen=True)
class HoldoutSetting:
    """The global hold-out as stored: a percentage of all persons and the salt of its hash."""

    percentage: float
    salt: str


def get_global_holdout(session: Session) -> HoldoutSetting | None:
    """The global long-term hold-out, or None when none is set."""
    row = session.get(GlobalHoldout, 1)
    return HoldoutSetting(row.percentage, row.salt) if row and row.percentage > 0 else None


def set_global_holdout(session: Session, percentage: float, *, new_salt: bool = False) -> None:
    """Set the global hold-out to ``percentage`` (0–50). The salt is kept, so the same persons
    stay held out (a larger percentage adds persons, a smaller one releases some); ``new_salt``
    draws a new hold-out group."""
    if not 0 <= percentage <= 50:
        raise ValidationFailed(f"percentage: {percentage} is outside 0–50.")
    row = session.get(GlobalHoldout, 1)
    if row is None:
        session.add(GlobalHoldout(id=1, percentage=percentage, salt=secrets.token_hex(8)))
    else:
        row.percentage = percentage
        if new_salt:
            row.salt = secrets.token_hex(8)
    session.flush()


def in_global_holdout(setting: HoldoutSetting | None, person_id: int) -> bool:
    """True when ``person_id`` belongs to the global hold-out ``setting``."""
    return setting is not None and unit_hash(setting.salt, person_id) * 100 < setting.percentage


def ordered_cells(cells: Sequence[Cell]) -> list[Cell]:
    """Cells in assignment order: control cells first, then by id."""
    return sorted(cells, key=lambda c: (not c.is_control, c.id))


def _bounds(cells: Sequence[Cell]) -> list[tuple[float, Cell]]:
    total = sum(max(c.share or 0.0, 0.0) for c in cells)
    if total <= 0:
        raise Conflict("The campaign's cells have no share: give at least one a share above 0.")
    acc, out = 0.0, []
    for cell in cells:
        acc += max(cell.share or 0.0, 0.0) / total
        out.append((acc, cell))
    return out


def _pick(bounds: Sequence[tuple[float, Cell]], u: float) -> Cell:
    for upper, cell in bounds:
        if u < upper:
            return cell
    return bounds[-1][1]


def draw_cells(
    campaign_id: int,
    cells: Sequence[Cell],
    person_ids: Iterable[int],
    tiers: Mapping[int, str | None] | None = None,
) -> dict[int, Cell]:
    """Each person's cell by the campaign's seeded hash (stratified by ``tiers`` when given)."""
    bounds = _bounds(ordered_cells(cells))
    salt = campaign_salt(campaign_id)
    ids = list(person_ids)
    hashes = unit_hashes(salt, ids)
    if tiers is None:
        return {pid: _pick(bounds, u) for pid, u in zip(ids, hashes, strict=True)}
    strata: dict[str | None, list[tuple[float, int]]] = {}
    for pid, u in zip(ids, hashes, strict=True):
        strata.setdefault(tiers.get(pid), []).append((u, pid))
    out: dict[int, Cell] = {}
    for members in strata.values():
        members.sort()
        n = len(members)
        for rank, (_u, pid) in enumerate(members):
            out[pid] = _pick(bounds, (rank + 0.5) / n)
    return out


def in_ab_test(campaign_id: int, person_id: int, test_share: float) -> bool:
    """True when a treatment person is in the test part of an A/B with automatic winner."""
    return unit_hash(campaign_salt(campaign_id) + ":ab", person_id) < test_share


def assign(
    session: Session,
    campaign_id: int,
    cells: Sequence[Cell],
    person_ids: Sequence[int],
    targeting: CampaignTargeting | None,
    tiers: Mapping[int, str | None] | None = None,
    cell_members: Mapping[int, set[int]] | None = None,
) -> dict[int, Cell | None]:
    """Each person's cell, stored in ``campaign_members``; None for a person waiting for an
    A/B winner; absent for a person in none of the cells' own segments (``cell_members``:
    the members of each cell that treats a segment of its own). A person assigned before
    keeps the stored cell."""
    if not cells:
        raise Conflict(f"Campaign {campaign_id} has no cells: add at least one.")
    by_id = {c.id: c for c in cells}
    stored = stored_cells(session, campaign_id, person_ids)
    new = [pid for pid in person_ids if pid not in stored]
    strata = tiers if targeting and targeting.stratify_by_tier else None
    drawn = _draw_by_segment(campaign_id, cells, new, strata, cell_members or {})
    out: dict[int, Cell | None] = {pid: by_id.get(cid) for pid, cid in stored.items()}
    ab = targeting if targeting and targeting.ab_test_share is not None else None
    winner = by_id.get(ab.ab_winner_cell_id) if ab and ab.ab_winner_cell_id else None
    rows: dict[tuple[int, int, object], list[int]] = {}  # (campaign, cell, time) → persons
    now = db_time(session, utcnow())
    share = (ab.ab_test_share or 0.0) if ab is not None else 0.0
    tested = unit_hashes(campaign_salt(campaign_id) + ":ab", new) if ab is not None else []
    for n, pid in enumerate(new):
        if pid not in drawn:
            continue  # in none of the cells' segments
        cell: Cell | None = drawn[pid]
        test = ab is not None and tested[n] < share  # as in_ab_test
        if ab is not None and cell is not None and not cell.is_control and not test:
            cell = winner  # None until the winner is known: the person waits
        out[pid] = cell
        if cell is not None:
            rows.setdefault((campaign_id, cell.id, now), []).append(pid)
    columns = ("campaign_id", "cell_id", "assigned_at")
    insert_groups(session, CampaignMember.__table__, columns, "person_id", rows)  # type: ignore[arg-type]
    return out


def _draw_by_segment(
    campaign_id: int,
    cells: Sequence[Cell],
    person_ids: Sequence[int],
    tiers: Mapping[int, str | None] | None,
    cell_members: Mapping[int, set[int]],
) -> dict[int, Cell]:
    """:func:`draw_cells` among the cells open to each person (a cell with a segment of its
    own is open to that segment's members only)."""
    if not cell_members:
        return draw_cells(campaign_id, cells, person_ids, tiers)
    groups: dict[tuple[int, ...], list[int]] = {}
    for pid in person_ids:
        key = tuple(c.id for c in cells if c.id not in cell_members or pid in cell_members[c.id])
        groups.setdefault(key, []).append(pid)
    by_id = {c.id: c for c in cells}
    out: dict[int, Cell] = {}
    for key, pids in groups.items():
        if key:
            out.update(draw_cells(campaign_id, [by_id[i] for i in key], pids, tiers))
    return out


def stored_cells(session: Session, campaign_id: int, person_ids: Sequence[int]) -> dict[int, int]:
    """The cell already stored for each of ``person_ids`` in the campaign."""
    out: dict[int, int] = {}
    ids = list(person_ids)
    if len(ids) > 20 * _CHUNK:  # a big audience: one scan of the campaign beats many IN lists
        wanted = set(ids)
        rows = rows_of(
            session,
            select(CampaignMember.person_id, CampaignMember.cell_id).where(
                CampaignMember.campaign_id == campaign_id
            ),
        )
        return {pid: cid for pid, cid in rows if pid in wanted}
    for start in range(0, len(ids), _CHUNK):
        out.update(
            session.execute(
                select(CampaignMember.person_id, CampaignMember.cell_id).where(
                    CampaignMember.campaign_id == campaign_id,
                    CampaignMember.person_id.in_(ids[start : start + _CHUNK]),
                )
            ).all()
        )
    return out
