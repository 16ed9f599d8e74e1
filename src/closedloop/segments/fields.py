"""The fields a segment rule may test, declared once: the rule checker, the compiler, the
JSON Schema, the web builder and the documentation all read this table.

A field lives on the person (``gender``), on the person's scores of the latest finished
scoring run (``tier``), or on the person's addresses (``country``: true when *any* of the
person's addresses matches). ``age`` is computed from ``birth_date`` in whole years on the
day the rule is evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from closedloop.i18n import N_

Source = Literal["person", "score", "address", "organisation"]
Kind = Literal["string", "integer", "number", "date", "datetime", "boolean"]

#: Every comparison a field rule may use.
OPS = (
    "eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "between",
    "is_null", "not_null", "starts_with",
)  # fmt: skip
#: Comparisons that take no value.
NULL_OPS = ("is_null", "not_null")
#: Comparisons that take a list of values.
LIST_OPS = ("in", "not_in")
#: Comparisons of order (numbers, dates; strings compare by their bytes).
ORDER_OPS = ("lt", "lte", "gt", "gte", "between")
#: How many values an ``in`` list may hold.
MAX_LIST = 1000
#: The longest string value a rule may hold.
MAX_TEXT = 500


@dataclass(frozen=True)
class FieldSpec:
    """One testable field: where it lives, its column and its kind of value."""

    name: str
    source: Source
    column: str
    kind: Kind
    label: str
    choices: tuple[str, ...] = ()

    @property
    def ops(self) -> tuple[str, ...]:
        """The comparisons this field accepts."""
        if self.kind == "string":
            return OPS
        if self.kind == "boolean":
            return ("eq", "ne", "is_null", "not_null")
        return tuple(op for op in OPS if op != "starts_with")


_TIERS = ("A", "B", "C", "D")
_LIFECYCLE = ("prospect", "customer", "lapsed", "won_back")

PERSON_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("gender", "person", "gender", "string", N_("Gender")),
    FieldSpec("birth_date", "person", "birth_date", "date", N_("Birth date")),
    FieldSpec("age", "person", "birth_date", "integer", N_("Age (years)")),
    FieldSpec("language", "person", "language", "string", N_("Language")),
    FieldSpec("lifecycle_status", "person", "lifecycle_status", "string", N_("Lifecycle status"),
              _LIFECYCLE),
    FieldSpec("preferred_channel", "person", "preferred_channel", "string",
              N_("Preferred channel")),
    FieldSpec("given_name", "person", "given_name", "string", N_("Given name")),
    FieldSpec("family_name", "person", "family_name", "string", N_("Family name")),
    FieldSpec("source_system", "person", "source_system", "string", N_("Source system")),
    FieldSpec("created_at", "person", "created_at", "datetime", N_("Created")),
    FieldSpec("tier", "score", "tier", "string", N_("Value tier"), _TIERS),
    FieldSpec("lifecycle_stage", "score", "lifecycle_stage", "string", N_("Lifecycle stage")),
    FieldSpec("rfm_segment", "score", "rfm_segment", "string", N_("RFM segment")),
    FieldSpec("rfm_code", "score", "rfm_code", "string", N_("RFM code")),
    FieldSpec("recency_days", "score", "recency_days", "integer", N_("Days since last purchase")),
    FieldSpec("frequency", "score", "frequency", "integer", N_("Purchase days in the RFM window")),
    FieldSpec("monetary", "score", "monetary", "number", N_("Revenue in the RFM window")),
    FieldSpec("revenue", "score", "revenue", "number", N_("Revenue, whole history")),
    FieldSpec("purchase_days", "score", "purchase_days", "integer", N_("Purchase days, history")),
    FieldSpec("p_alive", "score", "p_alive", "number", N_("Probability alive")),
    FieldSpec("clv", "score", "clv", "number", N_("Customer lifetime value")),
    FieldSpec("expected_spend", "score", "expected_spend", "number", N_("Expected spend")),
    FieldSpec("first_purchase_on", "score", "first_purchase_on", "date", N_("First purchase")),
    FieldSpec("country", "address", "country", "string", N_("Country (ISO code)")),
    FieldSpec("region", "address", "region", "string", N_("Region")),
    FieldSpec("postal_code", "address", "postal_code", "string", N_("Postal code")),
    FieldSpec("locality", "address", "locality", "string", N_("Locality")),
)  # fmt: skip

ORGANISATION_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", "organisation", "name", "string", N_("Name")),
    FieldSpec("industry", "organisation", "industry", "string", N_("Industry")),
    FieldSpec("legal_form", "organisation", "legal_form", "string", N_("Legal form")),
    FieldSpec("employee_count", "organisation", "employee_count", "integer", N_("Employees")),
    FieldSpec("annual_revenue", "organisation", "annual_revenue", "number", N_("Annual revenue")),
)

FIELDS: dict[str, FieldSpec] = {f.name: f for f in PERSON_FIELDS}
ORG_FIELDS: dict[str, FieldSpec] = {f.name: f for f in ORGANISATION_FIELDS}
