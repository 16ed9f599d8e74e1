"""From ledger rows to channel messages: the wave's plan, the checks made at send time, and
the rendering of each recipient's message.

:func:`load_plan` reads a wave once (campaign, cells, offers, templates compiled);
:func:`compose` turns a batch of rows into :class:`Ready` messages and :class:`Settled`
rows decided without sending: suppressed (consent withdrawn, suppression list — the consent
policy re-checked *now*, not at extraction), skipped (deleted or merged person, no valid
address, a second row of the same person in the wave), failed (the template cannot be
rendered for this person). The analysis and the proofs use the same path, without sending.

A message of a campaign that invites to an event (the ``message_invitation`` hook, answered
by :mod:`closedloop.events`) sees ``event`` and ``rsvp_url``; an email whose template uses
``rsvp_url`` is an invitation and carries the event's ``.ics``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns import tracking
from closedloop.campaigns.ledger import (
    AGENT_CHANNELS,
    LedgerRow,
    already_handed_over,
    wave_purpose,
)
from closedloop.campaigns.link_tracking import with_tracking
from closedloop.campaigns.models import Cell, Offer
from closedloop.campaigns.recipients import PostalLines, Recipient, load_recipients
from closedloop.campaigns.render import Rendered, RenderFailed
from closedloop.campaigns.template_names import Fields
from closedloop.campaigns.templates import MessageRenderer, base_context, load_renderer
from closedloop.channels import Attachment
from closedloop.consent import preference_links, verdicts
from closedloop.errors import ValidationFailed
from closedloop.hookspecs import pm
from closedloop.settings import get_settings
from closedloop.vocab import Channel, Purpose
from closedloop.vocab import CommunicationStatus as St


@dataclass
class CellPlan:
    """How one cell's members are addressed."""

    cell_id: int
    code: str
    channel: Channel
    offer: dict[str, Any]
    renderer: MessageRenderer


class Invitation(Protocol):
    """The event a campaign invites to, as its emails see it (``message_invitation``)."""

    fields: dict[str, Any]

    def attachment(
        self, communication_id: int, person_id: int, recipient: str, name: str | None
    ) -> Attachment:
        """The ``.ics`` of one invitation."""
        ...


@dataclass
class WavePlan:
    """Everything about a wave a sender needs, read once."""

    wave_id: int
    campaign_id: int
    purpose: Purpose
    campaign: dict[str, Any]
    wave: dict[str, Any]
    cells: dict[int, CellPlan] = field(default_factory=dict)
    invitation: Invitation | None = None

    @property
    def channels(self) -> set[Channel]:
        return {c.channel for c in self.cells.values()}


def load_plan(session: Session, wave_id: int) -> WavePlan:
    """The wave's plan; :class:`ValidationFailed` when a cell's template does not compile,
    a sending cell has no template, or a template names the event of a campaign that invites
    to none."""
    wave, campaign = wave_purpose(session, wave_id)
    plan = WavePlan(
        wave_id,
        campaign.id,
        Purpose(campaign.purpose),
        {"code": campaign.code, "name": campaign.name, "currency": campaign.currency},
        {"name": wave.name},
    )
    cells = session.scalars(
        select(Cell).where(Cell.campaign_id == campaign.id, Cell.is_control.is_(False))
    )
    errors: list[dict[str, Any]] = []
    for answer in pm.hook.message_invitation(session=session, campaign_id=campaign.id):
        if answer is not None:
            plan.invitation = answer
            break
    for cell in cells:
        if not cell.channel or cell.channel in AGENT_CHANNELS:
            continue  # calls are worked at the desk, not sent
        if cell.template_id is None:
            errors.append({"field": f"cell {cell.code}", "message": "has no message template"})
            continue
        renderer, problems = load_renderer(session, cell.template_id)
        if renderer is None:
            errors += [{"field": f"cell {cell.code}", "message": str(p)} for p in problems]
            continue
        if renderer.channel.value != cell.channel:
            errors.append(
                {
                    "field": f"cell {cell.code}",
                    "message": f"sends {cell.channel} but its template is for {renderer.channel}",
                }
            )
            continue
        if plan.invitation is None and renderer.names & {"event", "rsvp_url"}:
            errors.append(
                {
                    "field": f"cell {cell.code}",
                    "message": "its template uses event or rsvp_url but the campaign invites "
                    "to no event",
                }
            )
            continue
        offer = session.get(Offer, cell.offer_id) if cell.offer_id else None
        offer_doc = (
            {
                k: getattr(offer, k)
                for k in ("code", "name", "description", "price", "valid_from", "valid_to")
            }
            if offer
            else {}
        )
        plan.cells[cell.id] = CellPlan(
            cell.id, cell.code, Channel(cell.channel), offer_doc, renderer
        )
    if errors:
        raise ValidationFailed(f"Wave {wave_id} cannot be sent as it stands.", errors=errors)
    return plan


@dataclass(frozen=True)
class Ready:
    """A rendered message ready for its channel."""

    row_id: int
    person_id: int | None
    channel: Channel
    recipient: str
    name: str | None
    rendered: Rendered
    links: tuple[str, str] | None
    postal: PostalLines | None = None
    #: attempts before this one
    attempts: int = 0
    #: files the message carries (an invitation's ``.ics``)
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Settled:
    """A row decided without sending."""

    row_id: int
    status: St
    detail: str


def recommendations_for(
    session: Session, person_ids: list[int], campaign_id: int | None, limit: int = 6
) -> dict[int, list[dict[str, Any]]]:
    """Products to recommend per person, from the first plugin that answers (none yet)."""
    for answer in pm.hook.message_recommendations(
        session=session, person_ids=person_ids, campaign_id=campaign_id, limit=limit
    ):
        if answer is not None:
            return dict(answer)
    return {}


Links = Callable[[int], tuple[str, str]]


def person_links(person_id: int) -> tuple[str, str]:
    """(preference centre, one-click unsubscribe) of a person."""
    links = preference_links(person_id)
    return links.preferences, links.unsubscribe


def compose(
    session: Session,
    plan: WavePlan,
    rows: Sequence[LedgerRow],
    *,
    check_consent: bool = True,
    links: Links = person_links,
    today: date | None = None,
) -> tuple[list[Ready], list[Settled]]:
    """Render ``rows`` (see the module doc); the order of ``rows`` is kept."""
    ready: list[Ready] = []
    settled: list[Settled] = []
    people = load_recipients(session, [r.person_id for r in rows])
    taken = already_handed_over(
        session, plan.wave_id, [r.person_id for r in rows], [r.id for r in rows]
    )
    by_channel: dict[Channel, dict[int, Any]] = {}
    if check_consent:
        for channel in plan.channels:
            keys = {pid: p.address_key(channel) for pid, p in people.items()}
            wanted = [r.person_id for r in rows if r.channel == channel.value]
            by_channel[channel] = verdicts(session, wanted, channel, plan.purpose, keys)
    wants_recs = any("recommendations" in c.renderer.names for c in plan.cells.values())
    recs = recommendations_for(session, list(people), plan.campaign_id) if wants_recs else {}
    seen: set[int] = set()
    for row in rows:
        cell = plan.cells.get(row.cell_id or 0)
        person = people.get(row.person_id)
        if cell is None:
            settled.append(Settled(row.id, St.SKIPPED, "its cell sends nothing in this wave"))
            continue
        if person is None:
            settled.append(Settled(row.id, St.SKIPPED, "the person no longer exists"))
            continue
        if person.merged_into_id is not None:
            settled.append(
                Settled(row.id, St.SKIPPED, f"the person was merged into {person.merged_into_id}")
            )
            continue
        if row.person_id in seen or row.person_id in taken:
            other = taken.get(row.person_id)
            settled.append(
                Settled(
                    row.id,
                    St.SKIPPED,
                    "the person already has this wave's "
                    "message" + (f" (row {other})" if other else ""),
                )
            )
            continue
        seen.add(row.person_id)
        address = person.address_for(cell.channel)
        if not address:
            settled.append(Settled(row.id, St.SKIPPED, f"no valid {cell.channel} address"))
            continue
        verdict = by_channel.get(cell.channel, {}).get(row.person_id)
        if verdict is not None and not verdict.allowed:
            settled.append(Settled(row.id, St.SUPPRESSED, verdict.sentence()))
            continue
        try:
            message = _render(plan, cell, row.id, person, address, links, recs, today)
            ready.append(replace(message, attempts=row.attempts))
        except RenderFailed as exc:
            settled.append(Settled(row.id, St.FAILED, exc.reason))
    return ready, settled


def _render(
    plan: WavePlan,
    cell: CellPlan,
    row_id: int,
    person: Recipient,
    address: str,
    links: Links,
    recs: dict[int, list[dict[str, Any]]],
    today: date | None,
) -> Ready:
    pair = links(person.person_id) if cell.channel is Channel.EMAIL else None
    context = base_context(
        person.fields,
        offer=cell.offer,
        campaign=plan.campaign,
        wave=plan.wave,
        recommendations=recs.get(person.person_id),
        links=pair,
        today=today,
    )
    invitation = plan.invitation
    if cell.channel is Channel.EMAIL:
        context["survey_url"] = partial(_survey_url, communication_id=row_id)
    if invitation is not None:
        context["event"] = Fields("event", invitation.fields)
        context["rsvp_url"] = partial(_rsvp_url, row_id)
    rendered = cell.renderer.render(context, person.language)
    name = person.fields.get("full_name")
    files: tuple[Attachment, ...] = ()
    if (
        invitation is not None
        and cell.channel is Channel.EMAIL
        and "rsvp_url" in cell.renderer.names
    ):
        files = (invitation.attachment(row_id, person.person_id, address, name),)
    return Ready(
        row_id,
        person.person_id,
        cell.channel,
        address,
        name,
        rendered,
        pair,
        person.postal,
        attachments=files,
    )


def _survey_url(code: str, *, communication_id: int) -> str:
    return tracking.survey_url(str(code), communication_id=communication_id)


def _rsvp_url(communication_id: int, answer: str = "") -> str:
    if answer not in ("", "yes", "no", "maybe"):
        raise RenderFailed(f'rsvp_url takes "yes", "no" or "maybe", not {answer!r}')
    return tracking.rsvp_url(communication_id, answer or None)


def tracked(ready: Ready) -> Rendered:
    """An email's rendered message with tracked links and the open pixel."""
    base = get_settings().public_base_url.rstrip("/")
    skip = (base + "/preferences/", base + tracking.SURVEY_PATH, base + tracking.RSVP_PATH)
    return with_tracking(ready.rendered, ready.row_id, skip=skip)
