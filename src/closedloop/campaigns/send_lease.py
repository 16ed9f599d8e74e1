"""The lease of a wave's sender (``send_runs``): one sender per wave. It is taken by a
compare-and-swap, renewed in every commit point (:func:`closedloop.campaigns.ledger.mark_sending`)
and given back at the end; a sender that lost it cannot mark anything, so cannot send.

Queries here never commit; the sender owns its transactions.
"""

from __future__ import annotations

import socket
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from closedloop.campaigns.models import SendRun, Wave
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import Conflict, NotFound


class LeaseLost(Conflict):
    """Another sender took this wave over (this one looked dead): stop at once."""


def acquire(session: Session, wave_id: int, holder: str, *, stale_after: float, alive: Any) -> bool:
    """Take the wave's lease for ``holder``; returns True when a previous holder had died
    (its ``sending`` rows need settling). :class:`Conflict` when a live sender holds it.

    ``alive(holder)`` says whether a holder (``host:pid:…``) is a live process of this
    machine. A holder of this machine that is not alive is replaced at once; one of another
    machine once it has shown no life for ``stale_after`` seconds. The take-over is a
    compare-and-swap on the holder and heartbeat read, so of two senders only one wins.
    """
    now = utcnow()
    run = session.get(SendRun, wave_id, with_for_update=True)
    if run is None:
        if session.get(Wave, wave_id) is None:
            raise NotFound(f"Wave {wave_id} does not exist.")
        session.add(
            SendRun(
                wave_id=wave_id, holder=holder, heartbeat_at=now, started_at=now, state="running"
            )
        )
        session.flush()
        return False
    old_holder, old_beat = run.holder, run.heartbeat_at
    if old_holder is not None:
        age = (now - as_utc(old_beat)).total_seconds() if old_beat else float("inf")
        local = old_holder.partition(":")[0] == socket.gethostname()
        if alive(old_holder) or (age < stale_after and not local):
            raise Conflict(
                f"Wave {wave_id} is being sent by {old_holder} (last sign of life "
                f"{age:.0f} s ago); only one sender may work on a wave."
            )
    taken = session.execute(
        update(SendRun)
        .where(
            SendRun.wave_id == wave_id,
            SendRun.holder.is_(None) if old_holder is None else SendRun.holder == old_holder,
            SendRun.heartbeat_at.is_(None)
            if old_beat is None
            else SendRun.heartbeat_at == old_beat,
        )
        .values(
            holder=holder,
            heartbeat_at=now,
            started_at=now,
            finished_at=None,
            state="running",
            message=None,
        )
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"Wave {wave_id} was just taken by another sender.")
    return old_holder is not None


def heartbeat(session: Session, wave_id: int, holder: str) -> None:
    """Renew the lease; :class:`LeaseLost` when ``holder`` no longer holds it."""
    done = session.execute(
        update(SendRun)
        .where(SendRun.wave_id == wave_id, SendRun.holder == holder)
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"Another sender took wave {wave_id} over; this one stops.")


def release(session: Session, wave_id: int, holder: str, state: str, message: str | None) -> None:
    """Give the lease back, with how the run ended."""
    session.execute(
        update(SendRun)
        .where(SendRun.wave_id == wave_id, SendRun.holder == holder)
        .values(holder=None, finished_at=utcnow(), state=state, message=message and message[:500])
        .execution_options(synchronize_session=False)
    )
