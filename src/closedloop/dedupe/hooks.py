"""Hook implementations of the quality domain: the online check on every saved person.

Loaded in every process (web, API, CLI, worker), so it imports nothing heavy at module level:
the online check needs neither pandas nor Splink, and the batch engine is imported by the
jobs that run it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from closedloop.hookspecs import hookimpl

SESSION_KEY = "duplicate_candidates"  # = closedloop.dedupe.online.SESSION_KEY


@hookimpl
def person_saved(session: Session, person_id: int, created: bool) -> None:
    """Keep the person's match keys current, check them against the base, put candidates
    in the review queue and keep them on the session for the caller to show."""
    from closedloop.dedupe.candidates import record_online
    from closedloop.dedupe.keys import refresh_keys
    from closedloop.dedupe.online import find_candidates

    refresh_keys(session, [person_id])
    candidates = find_candidates(session, person_id)
    record_online(session, person_id, candidates)
    cache: dict[int, Any] = session.info.setdefault(SESSION_KEY, {})
    cache[person_id] = candidates


@hookimpl
def persons_imported(session: Session, person_ids: list[int], batch_id: int | None) -> None:
    """Persons written in bulk: queue ONE ``dedupe.index`` job (keys, then the online check)
    in the writer's transaction, so it exists exactly when the write committed."""
    from closedloop.dedupe.jobs import enqueue_index

    enqueue_index(session, person_ids, batch_id)


@hookimpl
def job_handlers() -> dict[str, Any]:
    """``dedupe.index`` (persons written in bulk) and ``dedupe.run`` (batch deduplication)."""
    from closedloop.dedupe.jobs import HANDLERS

    return dict(HANDLERS)
