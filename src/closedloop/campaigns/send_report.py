"""What one run of a wave's sender reports (:mod:`closedloop.campaigns.sender`), and the
progress callback it calls after each batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class SendReport:
    """What one run of a wave's sender did, and the ledger after it."""

    wave_id: int
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    skipped: int = 0
    retrying: int = 0
    unconfirmed: int = 0
    seeds: int = 0
    taken_over: bool = False
    stopped: str | None = None
    #: set when the run stopped (or never started) because the wave or campaign is paused or
    #: cancelled: nothing is lost, resuming sends the rest
    held: str | None = None
    next_retry_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["next_retry_at"] = self.next_retry_at.isoformat() if self.next_retry_at else None
        return doc


#: ``progress(done, total, report)`` after each batch.
Progress = Callable[[int, int, SendReport], None]
