"""A rendered message as its channel's outgoing message (email, SMS, letter)."""

from __future__ import annotations

from typing import Any

from closedloop.campaigns.compose import Ready, WavePlan, tracked
from closedloop.channels.email import OutgoingEmail
from closedloop.channels.letter import OutgoingLetter, PostalAddress
from closedloop.channels.sms import OutgoingSms
from closedloop.vocab import Channel


def outgoing(
    impl: Any, plan: WavePlan | None, ready: Ready, *, track: bool = True, name: str = ""
) -> Any:
    """The channel message of ``ready``; ``impl`` is the channel (it names the Message-ID).
    ``name`` tells apart messages that are no ledger row (a seed's copy)."""
    wave = plan.wave_id if plan is not None else 0
    local = name or str(ready.row_id)
    if ready.channel is Channel.EMAIL:
        rendered = tracked(ready) if track else ready.rendered
        message = OutgoingEmail(
            to=ready.recipient,
            to_name=ready.name or "",
            subject=rendered.subject or "",
            text=rendered.text or "",
            html=rendered.body,
            list_unsubscribe=ready.links[1] if ready.links else None,
            list_unsubscribe_post=ready.links is not None,
            tags={"wave_id": wave, "communication_id": ready.row_id},
            attachments=ready.attachments,
        )
        return impl.prepared(message, local=f"w{wave}.m{local}")
    if ready.channel is Channel.SMS:
        return OutgoingSms(
            to=ready.recipient, text=ready.rendered.body, reference=f"cl-{wave}-{local}"
        )
    if ready.channel is Channel.LETTER:
        p = ready.postal
        address = PostalAddress(
            name=ready.name or "",
            line1=p.line1 if p else None,
            line2=p.line2 if p else None,
            postal_code=p.postal_code if p else None,
            locality=p.locality if p else None,
            region=p.region if p else None,
            country=p.country if p else None,
        )
        return OutgoingLetter(
            reference=f"{wave}-{local}",
            address=address,
            subject=ready.rendered.subject,
            body=ready.rendered.body,
        )
    raise ValueError(f"no outgoing message for channel {ready.channel}")
