"""Hook implementations of the quality domain: the online check on every saved person."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from closedloop.hookspecs import hookimpl
from closedloop.quality.candidates import record_online
from closedloop.quality.keys import refresh_keys
from closedloop.quality.online import find_candidates

SESSION_KEY = "duplicate_candidates"


@hookimpl
def person_saved(session: Session, person_id: int, created: bool) -> None:
    """Keep the person's match keys current, check them against the base, put candidates
    in the review queue and keep them on the session for the caller to show."""
    refresh_keys(session, [person_id])
    candidates = find_candidates(session, person_id)
    record_online(session, person_id, candidates)
    cache: dict[int, Any] = session.info.setdefault(SESSION_KEY, {})
    cache[person_id] = candidates
