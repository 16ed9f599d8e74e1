"""Who may be contacted: the pure rule, and its batch check against the store.

The rule (MISSION M4, M20): a message goes out only with a *granted* consent for its channel
and purpose, and when no suppression names the person or the address for that channel (or for
every channel). :func:`can_contact` is the rule on values already read; :func:`verdicts`
reads what it needs for many persons at once (one query per table) and applies it, so a
sender re-checks a batch of 500 recipients at send time in three indexed queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from closedloop.consent.models import ConsentCurrent, Suppression
from closedloop.vocab import Channel, ConsentState, Purpose

_CHUNK = 900  # bound parameters per IN list (SQLite's limit is far above, PostgreSQL's too)


class Block(StrEnum):
    """Why a person may not be contacted."""

    NO_CONSENT = "no_consent"
    WITHDRAWN = "withdrawn"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Verdict:
    """The answer for one person: allowed, or blocked with the reason (and the suppression's
    own reason, e.g. ``bounced``)."""

    allowed: bool
    block: Block | None = None
    detail: str | None = None

    def sentence(self) -> str:
        """The reason in words, as stored on a suppressed message."""
        if self.block is Block.NO_CONSENT:
            return "no consent for this channel and purpose"
        if self.block is Block.WITHDRAWN:
            return "consent withdrawn"
        if self.block is Block.SUPPRESSED:
            return f"suppressed ({self.detail})"
        return "allowed"


ALLOWED = Verdict(True)


def can_contact(consent_state: str | None, suppression_reasons: Iterable[str]) -> Verdict:
    """The rule on known values: ``consent_state`` is the current state for the channel and
    purpose (None when the person never answered); ``suppression_reasons`` are the reasons of
    the suppressions that apply to this channel (the person's or the address's)."""
    reasons = sorted(set(suppression_reasons))
    if reasons:
        return Verdict(False, Block.SUPPRESSED, ", ".join(reasons))
    if consent_state == ConsentState.GRANTED.value:
        return ALLOWED
    if consent_state == ConsentState.WITHDRAWN.value:
        return Verdict(False, Block.WITHDRAWN)
    return Verdict(False, Block.NO_CONSENT)


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def verdicts(
    session: Session,
    person_ids: Sequence[int],
    channel: Channel,
    purpose: Purpose,
    address_keys: Mapping[int, str | None] | None = None,
) -> dict[int, Verdict]:
    """:func:`can_contact` for each of ``person_ids`` as the store says now.

    ``address_keys`` maps a person to the key of the address the message would go to (the
    normalised email, the E.164 number), so that a suppressed address blocks whoever holds it.
    """
    ids = list(dict.fromkeys(person_ids))
    states: dict[int, str] = {}
    reasons: dict[int, set[str]] = {pid: set() for pid in ids}
    on_channel = or_(Suppression.channel.is_(None), Suppression.channel == channel.value)
    for part in _chunks(ids):
        states.update(
            session.execute(
                select(ConsentCurrent.person_id, ConsentCurrent.state).where(
                    ConsentCurrent.person_id.in_(part),
                    ConsentCurrent.channel == channel.value,
                    ConsentCurrent.purpose == purpose.value,
                )
            ).all()
        )
        for pid, reason in session.execute(
            select(Suppression.person_id, Suppression.reason).where(
                Suppression.person_id.in_(part), on_channel
            )
        ).all():
            if pid is not None:
                reasons[pid].add(reason)
    keys = {pid: key for pid, key in (address_keys or {}).items() if key and pid in reasons}
    by_key: dict[str, list[int]] = {}
    for pid, key in keys.items():
        by_key.setdefault(key, []).append(pid)
    values = list(by_key)
    for start in range(0, len(values), _CHUNK):
        part_keys = values[start : start + _CHUNK]
        rows = session.execute(
            select(Suppression.value_key, Suppression.reason).where(
                and_(Suppression.value_key.in_(part_keys), on_channel)
            )
        ).all()
        for value_key, reason in rows:
            for pid in by_key.get(value_key or "", ()):
                reasons[pid].add(reason)
    return {pid: can_contact(states.get(pid), reasons[pid]) for pid in ids}
