"""Validation errors of the web forms, in the page's language.

Pydantic explains an invalid value in English ("String should have at least 10 characters").
A page shows instead, for each common pydantic error type, a message of the project's
catalogue with the error's limits filled in (``min_length``, ``ge``…). A domain service that
validated with pydantic raises :class:`~closedloop.errors.ValidationFailed` *from* the pydantic
error, so the typed errors are found through the exception's cause.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from closedloop.errors import ValidationFailed
from closedloop.i18n import N_

Gettext = Callable[[str], str]

#: The message when nothing more precise is known.
NOT_VALID = N_("This value is not valid.")
REQUIRED = N_("This field is required.")
URL = N_("Enter a web address that starts with http:// or https://.")
AT_LEAST_ONE = N_("Choose or enter at least one value.")

#: Messages by pydantic error type; ``%(name)s`` takes the value ``name`` of the error's context.
MESSAGES: dict[str, str] = {
    "missing": REQUIRED,
    "string_too_short": N_("Enter at least %(min_length)s character(s)."),
    "string_too_long": N_("Enter at most %(max_length)s character(s)."),
    "too_short": N_("Give at least %(min_length)s value(s)."),
    "too_long": N_("Give at most %(max_length)s value(s)."),
    "greater_than": N_("Enter a number greater than %(gt)s."),
    "greater_than_equal": N_("Enter a number of at least %(ge)s."),
    "less_than": N_("Enter a number less than %(lt)s."),
    "less_than_equal": N_("Enter a number of at most %(le)s."),
    "int_parsing": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "float_parsing": N_("Enter a number."),
    "float_type": N_("Enter a number."),
    "decimal_parsing": N_("Enter a number."),
    "decimal_type": N_("Enter a number."),
    "bool_parsing": N_("Choose yes or no."),
    "date_parsing": N_("Enter a valid date (year-month-day)."),
    "date_from_datetime_parsing": N_("Enter a valid date (year-month-day)."),
    "date_type": N_("Enter a valid date (year-month-day)."),
    "datetime_parsing": N_("Enter a valid date and time."),
    "datetime_from_date_parsing": N_("Enter a valid date and time."),
    "datetime_type": N_("Enter a valid date and time."),
    "url_parsing": URL,
    "url_scheme": URL,
    "url_syntax_violation": URL,
    "url_type": URL,
    "enum": N_("Choose a value from the list."),
    "literal_error": N_("Choose a value from the list."),
    "string_pattern_mismatch": N_("This value does not have the expected form."),
    "extra_forbidden": N_("This field is not expected here."),
    "value_error": NOT_VALID,
}


def _limits(ctx: Mapping[str, Any]) -> dict[str, str]:
    """The context values a message may show: numbers and dates, never free text."""
    shown: dict[str, str] = {}
    for name, value in ctx.items():
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | date):
            continue
        shown[name] = value.isoformat() if isinstance(value, date) else str(value)
    return shown


def pydantic_message(
    gettext: Gettext, error: Mapping[str, Any], value_error: str | None = None
) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) as a translated message.

    ``value_error`` is the message (a msgid) for a ``value_error``, the error of a custom
    validator, whose English text cannot be translated as it is.
    """
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        template = REQUIRED  # an empty text where one is needed
    elif kind == "too_short" and ctx.get("min_length") == 1:
        template = AT_LEAST_ONE
    elif kind == "value_error" and value_error:
        template = value_error
    else:
        template = MESSAGES.get(kind, NOT_VALID)
    try:
        return gettext(template) % _limits(ctx)
    except (KeyError, TypeError, ValueError):  # a limit the error did not give
        return gettext(NOT_VALID)


def pydantic_cause(exc: BaseException) -> ValidationError | None:
    """The pydantic error ``exc`` was raised from, directly or through other errors."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, ValidationError):
            return cause
        cause = cause.__cause__
    return None


def _first_field(loc: tuple[Any, ...] | list[Any]) -> str:
    return str(loc[0]) if loc else ""


def field_errors(
    exc: ValidationFailed,
    gettext: Gettext,
    *,
    value_errors: Mapping[str, str] | None = None,
    field_of: Callable[[tuple[Any, ...] | list[Any]], str] = _first_field,
) -> dict[str, list[str]]:
    """The translated errors of ``exc`` by form field (the first part of each error's
    location, or ``field_of(loc)``), without repeats.

    With a pydantic cause each error is translated by its type (:func:`pydantic_message`,
    ``value_errors`` giving the message of a field's custom validator). Otherwise the
    domain's own messages are shown through ``gettext``.
    """
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        if message not in errors.setdefault(name, []):
            errors[name].append(message)

    cause = pydantic_cause(exc)
    if cause is not None:
        for error in cause.errors():
            name = field_of(error["loc"])
            add(name, pydantic_message(gettext, error, (value_errors or {}).get(name)))
        return errors
    for item in exc.errors or [{"field": "", "message": exc.detail}]:
        name = field_of(str(item.get("field", "")).split(".", 1)[:1])
        add(name, gettext(str(item.get("message", "")) or NOT_VALID))
    return errors
