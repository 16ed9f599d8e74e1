"""The person's own fields, declared once.

These are the plain values of a :class:`closedloop.contacts.models.Person` (contact points,
addresses and identifiers are rows of their own). The contacts service, the import
(:mod:`closedloop.ingest.map.fields`, :mod:`closedloop.ingest.validate.prepare`), survivorship after a
merge (:mod:`closedloop.dedupe.survivorship`) and the web edit form
(:mod:`closedloop.web.person_form`) take their lists from :data:`PERSON_FIELDS`; adding a field
to a person is one more line here, its column in ``models.py`` with a migration, and its
typed entry in ``schemas.py`` (docs/howto/add-a-person-field.md). A test checks that the
model and the schemas agree with this list.
"""

# ruff: noqa: E501 - PERSON_FIELDS reads best as a table, one field a line

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PersonField:
    """One field of a person: its name, how an import validates it, how a merge keeps it."""

    name: str
    #: validator type of the import (:mod:`closedloop.ingest.validate.values`)
    type: str
    #: largest length (the column's), None for a non-text value
    max_length: int | None
    #: what the import's field list says about it
    help: str
    #: default survivorship rule (:mod:`closedloop.dedupe.survivorship`)
    survives: str


PERSON_FIELDS: tuple[PersonField, ...] = (
    PersonField("salutation", "text", 32, "Mr, Mme, Herr, Sra.…", "most_trusted"),
    PersonField("given_name", "name", 200, "first name", "most_complete"),
    PersonField("family_name", "name", 200, "last name", "most_complete"),
    PersonField("gender", "gender", 16, "female, male, diverse (any language, M/F)", "most_trusted"),
    PersonField("birth_date", "birth_date", None, "date of birth", "most_trusted"),
    PersonField("language", "language", 16, "preferred language (fr, en-GB, français…)", "most_recent"),
    PersonField("lifecycle_status", "lifecycle", 16, "prospect, customer, lapsed, won_back", "most_advanced"),
    PersonField("preferred_channel", "channel", 16, "email, sms, phone, letter, event", "most_recent"),
    PersonField("preferred_time", "text", 32, "preferred contact time", "most_recent"),
)  # fmt: skip

#: The names of :data:`PERSON_FIELDS`, in order.
PERSON_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in PERSON_FIELDS)
