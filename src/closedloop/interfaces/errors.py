"""Errors of the interfaces domain (each maps to its own problem type in the API)."""

from __future__ import annotations

from closedloop.errors import Conflict, DomainError, ValidationFailed


class PayloadTooLarge(DomainError):
    """The request body or its item count is over the documented limit."""

    status = 413
    title = "Payload too large"


class MalformedJson(DomainError):
    """The request body is not JSON; the detail names the line, column and character."""

    status = 400
    title = "Malformed JSON"


class IdempotencyKeyReused(ValidationFailed):
    """The Idempotency-Key was already used with a different request body."""

    title = "Idempotency key reused"


class IdempotencyKeyInUse(Conflict):
    """A request with the same Idempotency-Key is still being processed."""

    title = "Idempotency key in use"
