"""Proofs: test sends of a wave's messages to internal addresses before the wave goes out
(see :mod:`closedloop.campaigns.seeds`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from closedloop.campaigns.compose import load_plan
from closedloop.campaigns.models import SeedAddress
from closedloop.campaigns.outgoing import outgoing
from closedloop.campaigns.seeds import list_seeds, proof_copies
from closedloop.channels import get_channel
from closedloop.db.uow import unit_of_work
from closedloop.errors import ValidationFailed
from closedloop.vocab import Channel


def _fits(channel: Channel, address: str) -> bool:
    return ("@" in address) if channel is Channel.EMAIL else address.startswith("+")


def send_proofs(
    factory: sessionmaker[Session],
    wave_id: int,
    addresses: Sequence[str],
    *,
    person_id: int | None = None,
) -> list[dict[str, Any]]:
    """Send each email and SMS cell's message to ``addresses`` (default: the active seeds
    of its channel); returns one result per message sent."""
    with unit_of_work(factory) as session:
        plan = load_plan(session, wave_id)
        seeds: list[SeedAddress] = [] if addresses else list_seeds(session)
        wanted = list(addresses) or [s.address for s in seeds if s.active]
        if not wanted:
            raise ValidationFailed(
                "Give addresses with --to, or add seed addresses first.",
                errors=[{"field": "to", "message": "no address to send the proofs to"}],
            )
        copies = proof_copies(session, plan, wanted, person_id)
    results: list[dict[str, Any]] = []
    codes = {c.channel: c.code for c in plan.cells.values()}
    for channel in (Channel.EMAIL, Channel.SMS):
        group = [c for c in copies if c.channel is channel and _fits(channel, c.recipient)]
        if not group:
            continue
        impl = get_channel(channel.value)
        messages = [outgoing(impl, plan, c, track=False) for c in group]
        transport = impl.connect()
        try:
            deliveries = transport.send(messages, lambda ids, _done: set(ids))
        finally:
            transport.close()
        for d in sorted(deliveries, key=lambda d: d.index):
            results.append(
                {
                    "address": group[d.index].recipient,
                    "cell": codes.get(channel),
                    "outcome": d.outcome.value,
                    "detail": d.detail,
                }
            )
    return results
