"""The identity edit form of a person: its fields, their current values, and the update built
from a submitted form, with every error named by its field in the user's language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from closedloop.contacts.fields import PERSON_FIELD_NAMES
from closedloop.contacts.models import Address, Email, Person, Phone
from closedloop.contacts.normalize import normalize_email, normalize_phone
from closedloop.contacts.schemas import PersonUpdate
from closedloop.errors import ValidationFailed
from closedloop.i18n import N_
from closedloop.settings import get_settings
from closedloop.web.form_errors import pydantic_message
from closedloop.web.rendering import format_phone

#: Identity fields in form order; ``email`` and ``phone`` are the primary contact points.
IDENTITY_FIELDS = PERSON_FIELD_NAMES
#: The primary postal address's fields, by form name and Address attribute.
ADDRESS_FIELDS = {
    "address_line1": "line1",
    "address_line2": "line2",
    "postal_code": "postal_code",
    "locality": "locality",
    "country": "country",
}
FIELDS = (*IDENTITY_FIELDS, "email", "phone", *ADDRESS_FIELDS)


@dataclass
class FormResult:
    """A parsed form: the update to apply, or the errors per field."""

    values: dict[str, str]
    update: PersonUpdate | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


def _primary_email(person: Person) -> Email | None:
    return next(
        (e for e in person.emails if e.is_primary), person.emails[0] if person.emails else None
    )


def _primary_phone(person: Person) -> Phone | None:
    return next(
        (p for p in person.phones if p.is_primary), person.phones[0] if person.phones else None
    )


def _primary_address(person: Person) -> Address | None:
    return next(
        (a for a in person.addresses if a.is_primary),
        person.addresses[0] if person.addresses else None,
    )


def _address_values(address: Address | None) -> dict[str, str]:
    return {
        name: (getattr(address, attr, None) or "") if address else ""
        for name, attr in ADDRESS_FIELDS.items()
    }


def current_values(person: Person) -> dict[str, str]:
    """The form's fields filled from the stored person."""
    values = {name: "" for name in FIELDS}
    for name in IDENTITY_FIELDS:
        raw = getattr(person, name)
        values[name] = (
            "" if raw is None else str(raw.isoformat() if hasattr(raw, "isoformat") else raw)
        )
    email, phone = _primary_email(person), _primary_phone(person)
    values["email"] = email.address if email else ""
    values["phone"] = format_phone(phone.e164) if phone else ""
    values.update(_address_values(_primary_address(person)))
    return values


def read_form(form: FormData) -> dict[str, str]:
    """The submitted text of every field, trimmed."""
    out: dict[str, str] = {}
    for name in FIELDS:
        value = form.get(name)
        out[name] = value.strip() if isinstance(value, str) else ""
    return out


def _email_list(person: Person, new: str) -> list[dict[str, Any]]:
    primary = _primary_email(person)
    others = [
        {"address": e.address, "kind": e.kind, "is_primary": False}
        for e in person.emails
        if e is not primary
    ]
    if not new:
        return others
    kind = primary.kind if primary else "private"
    return [{"address": new, "kind": kind, "is_primary": True}, *others]


def _phone_list(person: Person, new: str) -> list[dict[str, Any]]:
    primary = _primary_phone(person)
    others = [
        {"number": p.e164, "kind": p.kind, "is_primary": False}
        for p in person.phones
        if p is not primary
    ]
    if not new:
        return others
    kind = primary.kind if primary else "private"
    return [{"number": new, "kind": kind, "is_primary": True}, *others]


def _address_list(person: Person, values: dict[str, str]) -> list[dict[str, Any]]:
    """The stored addresses with the primary one replaced by the form's (dropped if emptied)."""
    primary = _primary_address(person)
    keep = (
        "line1",
        "line2",
        "postal_code",
        "locality",
        "region",
        "country",
        "latitude",
        "longitude",
        "kind",
    )
    others = [
        {**{k: getattr(a, k) for k in keep}, "is_primary": False}
        for a in person.addresses
        if a is not primary
    ]
    new = {attr: values[name] or None for name, attr in ADDRESS_FIELDS.items()}
    if not any(new.values()):
        return others
    kind = primary.kind if primary else "private"
    # The region and coordinates belong to the old address only if the place did not change.
    same_place = primary is not None and all(
        (getattr(primary, attr) or None) == new[attr]
        for attr in ("postal_code", "locality", "country")
    )
    extra = (
        {k: getattr(primary, k) for k in ("region", "latitude", "longitude")}
        if same_place and primary is not None
        else {}
    )
    return [{**new, **extra, "kind": kind, "is_primary": True}, *others]


def _phone_changed(person: Person, new: str) -> bool:
    primary = _primary_phone(person)
    if primary is None:
        return bool(new)
    return new not in {primary.e164, format_phone(primary.e164), primary.raw or primary.e164}


def _country(person: Person) -> str:
    """The country national phone numbers are read in, as the contacts service does."""
    found = next((a.country for a in person.addresses if a.country), None)
    return found or get_settings().default_country


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    head = str(loc[0]) if loc else ""
    if head == "addresses":
        attr = next((str(part) for part in loc[1:] if isinstance(part, str)), "line1")
        return next((n for n, a in ADDRESS_FIELDS.items() if a == attr), "address_line1")
    return {"emails": "email", "phones": "phone"}.get(head, head)


def _message(
    gettext: Callable[[str], str],
    name: str,
    kind: str,
    text: str,
    ctx: dict[str, Any] | None = None,
) -> str:
    """A translated explanation of one validation error (pydantic type ``kind``, English
    ``text``); the person's own rules first, then the common pydantic types."""
    if name == "email":
        return gettext(N_("This is not a valid email address."))
    if name == "phone":
        return gettext(N_("This is not a valid phone number."))
    if name == "country":
        return gettext(N_("Use a two-letter country code such as FR or RO."))
    if kind == "string_too_long":
        return gettext(N_("This text is too long."))
    if kind.startswith("date") or kind == "date_parsing":
        return gettext(N_("Enter a valid date (year-month-day)."))
    if "future" in text:
        return gettext(N_("The birth date is in the future."))
    if "1900" in text:
        return gettext(N_("The birth date is before 1900."))
    if name == "language":
        return gettext(N_("Use a language code such as fr or fr-FR."))
    if kind in {"enum", "literal_error", "string_pattern_mismatch"}:
        return gettext(N_("Choose a value from the list."))
    return pydantic_message(gettext, {"type": kind, "ctx": ctx or {}})


def parse(
    form: FormData, person: Person, version: int, gettext: Callable[[str], str]
) -> FormResult:
    """Build the update from a submitted form; only changed primary contacts are sent."""
    values = read_form(form)
    data: dict[str, Any] = {"version": version}
    for name in IDENTITY_FIELDS:
        data[name] = values[name] or None
    primary_email = _primary_email(person)
    if values["email"] != (primary_email.address if primary_email else ""):
        data["emails"] = _email_list(person, values["email"])
    if _phone_changed(person, values["phone"]):
        data["phones"] = _phone_list(person, values["phone"])
    if _address_values(_primary_address(person)) != {n: values[n] for n in ADDRESS_FIELDS}:
        data["addresses"] = _address_list(person, values)
    result = FormResult(values=values)
    # Checked here too so that every error is shown at once, not only the schema's.
    if "emails" in data and values["email"]:
        try:
            normalize_email(values["email"])
        except ValueError:
            result.errors["email"] = [_message(gettext, "email", "", "")]
    if "phones" in data and values["phone"]:
        try:
            normalize_phone(values["phone"], _country(person))
        except ValueError:
            result.errors["phone"] = [_message(gettext, "phone", "", "")]
    try:
        update = PersonUpdate.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            name = _field_of(err["loc"])
            message = _message(gettext, name, err["type"], str(err.get("msg", "")), err.get("ctx"))
            if message not in result.errors.get(name, []):
                result.errors.setdefault(name, []).append(message)
    else:
        if not result.errors:
            result.update = update
    return result


def service_errors(exc: ValidationFailed, gettext: Callable[[str], str]) -> dict[str, list[str]]:
    """The errors a service reported (``emails[0].address``…), by form field."""
    errors: dict[str, list[str]] = {}
    for item in exc.errors:
        raw = str(item.get("field", ""))
        name = _field_of([raw.split("[", 1)[0].split(".", 1)[0], raw.rsplit(".", 1)[-1]])
        errors.setdefault(name, []).append(_message(gettext, name, "", str(item.get("message"))))
    return errors
