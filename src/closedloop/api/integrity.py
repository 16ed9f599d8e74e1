"""A database constraint broken by a request: a 409 or a 422 problem, never a 500.

The services check what they can name in the user's words (an unknown ``campaign_id`` is a 422
naming that field). This is the net under them, for every route at once: a foreign key to a
record that does not exist, a value that must be unique, a required or checked column. The
request's unit of work is rolled back (:func:`closedloop.db.uow.unit_of_work`), so nothing of it
is stored; the answer names the field where the database says which one (PostgreSQL always,
SQLite for unique and required columns) and never shows SQL or the stored values.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.exc import IntegrityError

from closedloop.errors import Conflict, DomainError, ValidationFailed

log = logging.getLogger(__name__)

#: PostgreSQL's SQLSTATE codes of the integrity class (23xxx).
_FOREIGN_KEY, _UNIQUE, _NOT_NULL = "23503", "23505", "23502"
#: ``Key (campaign_id)=(99) is not present…`` / ``Key (code)=(x) already exists.``
_PG_KEY = re.compile(r"Key \(([^)]*)\)=")
#: ``UNIQUE constraint failed: offers.code, offers.name`` / ``NOT NULL constraint failed: t.c``
_SQLITE_COLUMNS = re.compile(r"constraint failed: (.+)$")


def _kind_and_fields(exc: IntegrityError) -> tuple[str, list[str]]:
    """``("foreign_key" | "unique" | "not_null" | "check", [field, …])`` of a broken constraint."""
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    if state is not None:  # PostgreSQL (psycopg)
        diag = getattr(orig, "diag", None)
        found = _PG_KEY.search(getattr(diag, "message_detail", None) or "")
        fields = [f.strip() for f in found.group(1).split(",")] if found else []
        if state == _NOT_NULL:
            fields = [c for c in [getattr(diag, "column_name", None)] if c]
        kinds = {_FOREIGN_KEY: "foreign_key", _UNIQUE: "unique", _NOT_NULL: "not_null"}
        return kinds.get(state, "check"), fields
    message = str(orig)
    columns = _SQLITE_COLUMNS.search(message)
    fields = [c.strip().rsplit(".", 1)[-1] for c in columns.group(1).split(",")] if columns else []
    for prefix, kind in (("FOREIGN KEY", "foreign_key"), ("UNIQUE", "unique")):
        if message.startswith(prefix):
            return kind, [] if kind == "foreign_key" else fields
    return ("not_null" if message.startswith("NOT NULL") else "check"), fields


def domain_error_of(exc: IntegrityError) -> DomainError:
    """The domain error a broken constraint means to the client: a 409 for a value that exists
    already, a 422 (with the fields the database names) for the rest."""
    kind, fields = _kind_and_fields(exc)
    log.warning("Integrity error turned into a %s problem: %s", kind, exc.orig)
    reasons = {
        "foreign_key": "names a record that does not exist",
        "unique": "is already used by another record",
        "not_null": "is required",
        "check": "is not an allowed value",
    }
    errors = [{"field": field, "message": reasons[kind]} for field in fields]
    if kind == "unique":
        return Conflict("A record with this value exists already.", errors=errors)
    detail = {
        "foreign_key": "The request refers to a record that does not exist; nothing was saved.",
        "not_null": "A required value is missing; nothing was saved.",
        "check": "A value is not allowed here; nothing was saved.",
    }[kind]
    return ValidationFailed(detail, errors=errors)
