"""The ``Channel`` protocol every channel implements (email, SMS, letters; call lists and
events later), and the typed outcome of a delivery.

A channel turns rendered messages into deliveries through a :class:`Transport` (an SMTP
connection pool, an HTTP client, a PDF file being written). The sender hands it a batch and a
*commit point*: a callback the transport calls just before the step that cannot be taken back
(the final dot of SMTP DATA, the HTTP request to the SMS provider, the rename of a finished
PDF). The sender records those messages as ``sending`` durably inside the callback, so a
process killed at any moment leaves every message either not sent (still ``queued``) or
marked as possibly sent — never sent twice (see :mod:`closedloop.campaigns.sender`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Protocol, TypeVar

from closedloop.errors import DomainError


class Outcome(StrEnum):
    """What became of one message handed to a transport."""

    #: accepted by the server or provider (or written to its final file)
    SENT = "sent"
    #: refused for now (4xx, rate limit): try again later
    RETRY = "retry"
    #: refused for good (5xx, an invalid number): do not try again
    FAILED = "failed"
    #: not attempted, or given up before the commit point: as if never handed over
    UNSENT = "unsent"
    #: handed over past the commit point, but no answer came back (connection lost)
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Delivery:
    """The outcome of the message at ``index`` of the batch, with the server's words."""

    index: int
    outcome: Outcome
    detail: str | None = None
    #: the provider's id of the message (SMS), when it gives one
    ref: str | None = None


#: Called with the batch indexes about to pass the point of no return, and the deliveries
#: settled since the previous call (so the caller can record both in one transaction). It
#: returns once they are durably recorded as ``sending``, with the indexes that may go on
#: (a message withdrawn meanwhile is dropped before its point of no return).
CommitPoint = Callable[[Sequence[int], Sequence["Delivery"]], Collection[int]]


class ChannelUnavailable(DomainError):
    """The server or provider cannot be reached or refuses every message for now."""

    status = 503
    title = "Channel unavailable"


M_contra = TypeVar("M_contra", contravariant=True)


class Transport(Protocol[M_contra]):
    """An open link to a server or provider, sending batches of messages."""

    def send(self, batch: Sequence[M_contra], commit: CommitPoint) -> list[Delivery]:
        """Deliver ``batch``; one :class:`Delivery` per message, in any order. ``commit`` is
        called before any message passes its point of no return. A lost link is reopened;
        its message is UNSENT (before the commit point) or UNKNOWN (after it)."""
        ...

    def close(self) -> None:
        """Close the link (politely: QUIT)."""
        ...


class Channel(Protocol[M_contra]):
    """A way of reaching people; built-in channels register through the ``channel_types``
    hook (:mod:`closedloop.channels.hooks`)."""

    name: ClassVar[str]

    def connect(self) -> Transport[M_contra]:
        """Open a transport; :class:`ChannelUnavailable` when the server cannot be reached."""
        ...

    def reference(self, message: M_contra) -> str | None:
        """The id recorded with a message before it is sent (an email's Message-ID), so
        that a message whose fate is unknown can be looked up in the server's log."""
        ...

    def settle(self, references: Sequence[str | None]) -> list[bool | None]:
        """For messages left ``sending`` by a dead sender: True when surely delivered, False
        when surely not, None when the channel cannot tell (they become ``unconfirmed``)."""
        ...
