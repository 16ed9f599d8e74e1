"""Channels (email, SMS, letter; call lists and events come with the campaign pages): each
implements one :class:`Channel` protocol and registers through the ``channel_types`` hook.

- :mod:`closedloop.channels.email`: messages over SMTP, the ``email.send`` job;
  :mod:`.sms`: an HTTP provider adapter; :mod:`.letter`: PDF mail-merge and print-shop CSV
  (imported where used: it loads fpdf2).
- :mod:`closedloop.channels.catcher`: the demo's mail catcher, an SMTP server that keeps what
  it receives in the store.
- :mod:`closedloop.channels.outbox`: what the catcher kept, read as the recipient reads it, and
  the email jobs that could not send (the admins' outbox page).

Front door:

- :class:`Channel`, :class:`Transport`, :class:`Delivery`, :class:`Outcome`,
  :data:`CommitPoint`, :class:`ChannelUnavailable` — the protocol (:mod:`.base`);
- :func:`get_channel` — the configured channel of a name, from the registered plugins;
- :class:`OutgoingEmail`, :class:`EmailChannel`, :class:`Attachment` (a file it carries);
  :class:`OutgoingSms`, :func:`sms_length`;
  :class:`PostalAddress`, :func:`address_block` (``OutgoingLetter`` and ``LetterChannel``
  are in :mod:`.letter`);
- :class:`ChannelSettings`, :func:`get_channel_settings`.
"""

from __future__ import annotations

from typing import Any

from closedloop.channels.base import (
    Channel,
    ChannelUnavailable,
    CommitPoint,
    Delivery,
    Outcome,
    Transport,
)
from closedloop.channels.email import EmailChannel, OutgoingEmail
from closedloop.channels.mime import Attachment
from closedloop.channels.postal_format import PostalAddress, address_block
from closedloop.channels.settings import ChannelSettings, get_channel_settings
from closedloop.channels.sms import OutgoingSms, SmsChannel, SmsLength, sms_length
from closedloop.errors import NotFound
from closedloop.hookspecs import pm


def channel_factories() -> dict[str, Any]:
    """Every registered channel factory by name (``channel_types`` hook)."""
    found: dict[str, Any] = {}
    for mapping in pm.hook.channel_types():
        found.update(mapping or {})
    return found


def get_channel(name: str) -> Any:
    """The channel ``name`` built from the settings; NotFound when no plugin provides it."""
    factory = channel_factories().get(name)
    if factory is None:
        raise NotFound(f"No channel {name!r} is installed.")
    return factory()


__all__ = [
    "Attachment",
    "Channel",
    "ChannelSettings",
    "ChannelUnavailable",
    "CommitPoint",
    "Delivery",
    "EmailChannel",
    "Outcome",
    "OutgoingEmail",
    "OutgoingSms",
    "PostalAddress",
    "SmsChannel",
    "SmsLength",
    "Transport",
    "address_block",
    "channel_factories",
    "get_channel",
    "get_channel_settings",
    "sms_length",
]
