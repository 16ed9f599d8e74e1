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
