"""Seed addresses and proofs: internal addresses that see what recipients see.

- A *seed* (``seed_addresses``) gets a copy of each cell's message of every wave of its
  channel, once (``seed_sends`` is unique per wave, cell and seed and is written before the
  copy is handed over), so the marketing team monitors what really went out and when.
- A *proof* is a test send of a wave's messages, before the wave goes out, to addresses
  given at the time (or the seed list), rendered with a real person's data or the seed's own
  fields; its subject starts with ``[PROOF]``. Proofs are not in the contact history.

Seeds and proofs carry no tracked link and no personal unsubscribe link: they are no
customer's messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from closedloop.campaigns.compose import CellPlan, Ready, WavePlan, person_links
from closedloop.campaigns.models import SeedAddress, SeedSend
from closedloop.campaigns.recipients import PostalLines, load_recipients
from closedloop.campaigns.render import RenderFailed
from closedloop.campaigns.templates import base_context
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.settings import get_settings
from closedloop.vocab import Channel


class SeedCreate(BaseModel):
    """A new seed address: an email address, an E.164 number, or a postal seed's label with
    its address in ``fields`` (line1, postal_code, locality, country)."""

    model_config = ConfigDict(extra="forbid")
    channel: Channel
    address: str = Field(min_length=3, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    locale: str | None = Field(default=None, max_length=16)
    fields: dict[str, str] = Field(default_factory=dict)


def add_seed(session: Session, data: SeedCreate) -> SeedAddress:
    """Store a seed address; Conflict when it is already there."""
    if data.channel is Channel.EMAIL and "@" not in data.address:
        raise ValidationFailed(
            "Not an email address.",
            errors=[{"field": "address", "message": "not an email address"}],
        )
    if data.channel is Channel.SMS and not data.address.startswith("+"):
        raise ValidationFailed(
            "Give the number in E.164 form (+33612345678).",
            errors=[{"field": "address", "message": "not an E.164 number"}],
        )
    seed = SeedAddress(**data.model_dump(mode="json"), active=True)
    session.add(seed)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{data.address} is already a {data.channel} seed.") from exc
    return seed


def list_seeds(session: Session, channel: Channel | None = None) -> list[SeedAddress]:
    """Seed addresses (of one channel)."""
    stmt = select(SeedAddress).order_by(SeedAddress.channel, SeedAddress.address)
    if channel is not None:
        stmt = stmt.where(SeedAddress.channel == channel.value)
    return list(session.scalars(stmt))


def remove_seed(session: Session, seed_id: int) -> None:
    """Delete a seed address (its past copies go with it)."""
    seed = session.get(SeedAddress, seed_id)
    if seed is None:
        raise NotFound(f"Seed address {seed_id} does not exist.")
    session.delete(seed)
    session.flush()


def _blank_links() -> tuple[str, str]:
    base = get_settings().public_base_url.rstrip("/")
    return f"{base}/preferences/seed-copy", f"{base}/preferences/seed-copy/unsubscribe"


@dataclass(frozen=True)
class SeedCopy:
    """A seed's copy of one cell's message."""

    seed_id: int
    cell_id: int
    ready: Ready


def render_for_fields(
    plan: WavePlan,
    cell: CellPlan,
    fields: dict[str, Any],
    address: str,
    name: str | None,
    language: str | None,
    links: tuple[str, str] | None,
    postal: PostalLines | None = None,
) -> Ready:
    """A cell's message rendered with ``fields`` as the person (a seed, a proof)."""
    context = base_context(
        fields, offer=cell.offer, campaign=plan.campaign, wave=plan.wave, links=links
    )
    rendered = cell.renderer.render(context, language)
    return Ready(0, None, cell.channel, address, name, rendered, links, postal)


def seed_copies(session: Session, plan: WavePlan) -> tuple[list[SeedCopy], list[str]]:
    """The copies still owed to active seeds for this wave, and the problems of those that
    cannot be rendered (a seed lacking a field the template needs)."""
    done = {
        (cell_id, seed_id)
        for cell_id, seed_id in session.execute(
            select(SeedSend.cell_id, SeedSend.seed_id).where(SeedSend.wave_id == plan.wave_id)
        )
    }
    copies: list[SeedCopy] = []
    problems: list[str] = []
    for seed in list_seeds(session):
        if not seed.active:
            continue
        for cell in plan.cells.values():
            if cell.channel.value != seed.channel or (cell.cell_id, seed.id) in done:
                continue
            fields = {"given_name": seed.name, **(seed.fields or {})}
            fields.setdefault("email" if cell.channel is Channel.EMAIL else "phone", seed.address)
            postal = _seed_postal(seed.fields or {}) if cell.channel is Channel.LETTER else None
            try:
                ready = render_for_fields(
                    plan, cell, fields, seed.address, seed.name, seed.locale, _blank_links(), postal
                )
            except RenderFailed as exc:
                problems.append(f"seed {seed.address}, cell {cell.code}: {exc.reason}")
                continue
            copies.append(SeedCopy(seed.id, cell.cell_id, ready))
    return copies, problems


def _seed_postal(fields: dict[str, str]) -> PostalLines:
    return PostalLines(
        fields.get("line1"),
        fields.get("line2"),
        fields.get("postal_code"),
        fields.get("locality"),
        fields.get("region"),
        fields.get("country"),
    )


def proof_copies(
    session: Session, plan: WavePlan, addresses: Sequence[str], person_id: int | None
) -> list[Ready]:
    """Each cell's message for each address, rendered with person ``person_id``'s data (or
    a sample without personal data), subject marked ``[PROOF]``."""
    person = None
    if person_id is not None:
        person = load_recipients(session, [person_id]).get(person_id)
        if person is None:
            raise NotFound(f"Person {person_id} does not exist.")
    out: list[Ready] = []
    for cell in plan.cells.values():
        fields = person.fields if person else {"given_name": "Sample", "family_name": "Reader"}
        links = person_links(person_id) if person_id is not None else _blank_links()
        for address in addresses:
            ready = render_for_fields(
                plan,
                cell,
                fields,
                address,
                None,
                person.language if person else None,
                links,
                person.postal if person else None,
            )
            subject = f"[PROOF] {ready.rendered.subject or ''}".strip()
            out.append(replace(ready, rendered=replace(ready.rendered, subject=subject)))
    return out
