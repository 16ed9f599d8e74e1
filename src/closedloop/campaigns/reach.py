"""Whether each person of an audience may be reached on a channel, read in bulk at extraction.

The rule is :func:`closedloop.consent.policy.can_contact` (the same one the sender re-applies
at send time); this module only reads its inputs for a whole audience with one query per
table: the current consent for the channel and purpose, the suppressions naming the person,
the address the channel would use and the suppressions naming that address.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from closedloop.campaigns.bulk import rows as rows_of
from closedloop.campaigns.coordination import Audience
from closedloop.consent.models import ConsentCurrent, Suppression
from closedloop.consent.policy import Block, Verdict, can_contact
from closedloop.contacts.models import Address, Email, Phone
from closedloop.vocab import Channel, Purpose

#: Channels whose address a suppression may name (the sender's rule: email and SMS).
_KEYED = (Channel.EMAIL, Channel.SMS)


@dataclass(frozen=True)
class Reach:
    """A person's verdict on a channel and whether they have an address for it."""

    verdict: Verdict
    has_address: bool


def _addresses(session: Session, audience: Audience, channel: Channel) -> dict[int, str | None]:
    """Each person's address key for ``channel`` (None: an address that has no key)."""
    out: dict[int, str | None] = {}
    for cond in audience.filters(_person_col(channel)):  # type: ignore[arg-type]
        for pid, key in rows_of(session, _address_stmt(channel, cond)):
            out.setdefault(pid, key if channel in _KEYED else None)
    return out


def _person_col(channel: Channel) -> object:
    if channel in (Channel.EMAIL, Channel.EVENT):
        return Email.person_id
    if channel in (Channel.SMS, Channel.PHONE):
        return Phone.person_id
    return Address.person_id


def _address_stmt(channel: Channel, cond: ColumnElement[bool]) -> Any:
    if channel in (Channel.EMAIL, Channel.EVENT):
        return (
            select(Email.person_id, Email.address_key)
            .where(cond, Email.is_valid.is_(True))
            .order_by(Email.person_id, Email.is_primary.desc(), Email.id)
        )
    if channel in (Channel.SMS, Channel.PHONE):
        phone = select(Phone.person_id, Phone.e164).where(cond, Phone.is_valid.is_(True))
        if channel is Channel.SMS:
            phone = phone.where(Phone.line_type == "mobile")
        return phone.order_by(Phone.person_id, Phone.is_primary.desc(), Phone.id)
    return (
        select(Address.person_id, Address.postal_code)
        .where(cond, Address.is_valid.is_(True))
        .where(or_(Address.line1.is_not(None), Address.locality.is_not(None)))
        .order_by(Address.person_id, Address.is_primary.desc(), Address.id)
    )


def reach(
    session: Session,
    audience: Audience,
    persons: Iterable[int],
    channel: Channel,
    purpose: Purpose,
) -> dict[int, Reach]:
    """The verdict and address presence of each of ``persons`` (members of ``audience``)."""
    wanted = set(persons)
    states: dict[int, str] = {}
    reasons: dict[int, set[str]] = {}
    on_channel = or_(Suppression.channel.is_(None), Suppression.channel == channel.value)
    for cond in audience.filters(ConsentCurrent.person_id):
        rows = rows_of(
            session,
            select(ConsentCurrent.person_id, ConsentCurrent.state).where(
                cond,
                ConsentCurrent.channel == channel.value,
                ConsentCurrent.purpose == purpose.value,
            ),
        )
        states.update({pid: state for pid, state in rows if pid in wanted})
    for cond in audience.filters(Suppression.person_id):  # type: ignore[arg-type]
        for pid, reason in rows_of(
            session, select(Suppression.person_id, Suppression.reason).where(cond, on_channel)
        ):
            if pid in wanted:
                reasons.setdefault(pid, set()).add(reason)
    keys = _addresses(session, audience, channel)
    by_key: dict[str, set[str]] = {}
    for key, reason in rows_of(
        session,
        select(Suppression.value_key, Suppression.reason).where(
            Suppression.value_key.is_not(None), on_channel
        ),
    ):
        by_key.setdefault(key or "", set()).add(reason)
    out: dict[int, Reach] = {}
    memo: dict[tuple[str | None, frozenset[str], bool], Reach] = {}
    none: frozenset[str] = frozenset()
    for pid in wanted:
        key = keys.get(pid)
        mine = reasons.get(pid)
        extra = by_key.get(key) if key else None
        found = frozenset(mine | extra if mine and extra else mine or extra or none)
        case = (states.get(pid), found, pid in keys)
        r = memo.get(case)
        if r is None:  # one verdict per distinct case, shared by every person in it
            r = memo[case] = Reach(can_contact(case[0], found), case[2])
        out[pid] = r
    return out


def unreachable(r: Reach, channel: Channel) -> tuple[str, str] | None:
    """The extraction stage (``consent``, ``suppression``, ``no_address``) and the reason that
    stop a person on ``channel``, or None when a message may go: the one rule extraction
    applies and market reachability counts."""
    if not r.verdict.allowed:
        stage = "suppression" if r.verdict.block is Block.SUPPRESSED else "consent"
        return stage, f"{channel.value}: {r.verdict.sentence()}"
    if not r.has_address and channel is not Channel.PHONE:
        return "no_address", f"no valid address for {channel.value}"
    if not r.has_address:
        return "no_address", "no valid phone number"
    return None
