"""Domain errors. Services raise them; the API maps them to problem+json, the CLI to messages."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class of every error a service raises on purpose."""

    status = 400
    title = "Invalid request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class NotFound(DomainError):
    """The named record does not exist (or is not visible to the caller)."""

    status = 404
    title = "Not found"


class Conflict(DomainError):
    """The request conflicts with the stored state (a concurrent edit, a duplicate key)."""

    status = 409
    title = "Conflict"


class Refused(DomainError):
    """The operation is not allowed for this record, for a reason the detail explains."""

    status = 409
    title = "Refused"


class ValidationFailed(DomainError):
    """Input failed validation; ``errors`` lists each field and reason."""

    status = 422
    title = "Validation failed"


class PermissionDenied(DomainError):
    """The user's role does not allow this operation."""

    status = 403
    title = "Forbidden"


class AuthenticationFailed(DomainError):
    """Credentials are missing or wrong. Never says which part was wrong."""

    status = 401
    title = "Unauthorized"


class TooManyRequests(DomainError):
    """A rate limit was reached; ``retry_after`` says in how many seconds to try again."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogues (as :func:`closedloop.i18n.N_`; this kernel module
    sits beside ``i18n`` and may not import it). Pages translate it where they show it."""
    return message


#: Why background work stopped, as stored (English) and translated where shown.
FAILURES = {
    "busy": N_(
        "The database was busy with other work (another job or program was writing) and the "
        "work could not wait longer. Run it again in a moment."
    ),
    "disk": N_(
        "The database server ran out of disk space. Free some space, then run it again; the "
        "work already decided is kept."
    ),
    "connection": N_(
        "The connection to the database was lost. Run it again; if it fails again, ask an "
        "administrator to look at the server log (it names this job and holds the details)."
    ),
    "conflict": N_(
        "The database refused a change (an unexpected conflict in the data). Run it again; if "
        "it fails again, ask an administrator to look at the server log (it names this job "
        "and holds the details)."
    ),
    "memory": N_(
        "The server ran out of memory while doing it. Run it again; if it fails again, ask an "
        "administrator to look at the server log (it names this job and holds the details)."
    ),
    "network": N_(
        "A network connection failed or timed out. Run it again; if it fails again, ask an "
        "administrator to look at the server log (it names this job and holds the details)."
    ),
    "unexpected": N_(
        "An unexpected error stopped it. Run it again; if it fails again, ask an "
        "administrator to look at the server log (it names this job and holds the details)."
    ),
}


def failure_message(exc: BaseException) -> str:
    """The short, user-facing account of why background work stopped: what failed and what
    to do, never SQL, parameters, paths or a traceback (those go to the server log only).

    A :class:`DomainError` already speaks to the user and is kept as it is. A busy SQLite
    database and a lost database connection are named as such; anything else is an
    unexpected error.
    """
    if isinstance(exc, DomainError):
        return exc.detail
    text = str(exc).lower()
    module = type(exc).__module__ or ""
    if module.startswith("sqlalchemy") or module.startswith(("sqlite3", "psycopg")):
        if "database is locked" in text or "could not obtain lock" in text:
            return FAILURES["busy"]
        if "no space left" in text or "disk is full" in text or "disk full" in text:
            return FAILURES["disk"]
        if "connection" in text and ("refused" in text or "closed" in text or "lost" in text):
            return FAILURES["connection"]
        return FAILURES["conflict"]
    if isinstance(exc, MemoryError):
        return FAILURES["memory"]
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return FAILURES["network"]
    return FAILURES["unexpected"]
