"""What each kind of import reads: its fields, their types and which are required.

Field names are the plain English names that map with no mapping at all (``given_name``,
``postal_code``…). Types name the validator of :mod:`closedloop.ingest.validate.values`.
"""

from __future__ import annotations

from dataclasses import dataclass

from closedloop.contacts.fields import PERSON_FIELDS


@dataclass(frozen=True)
class Field:
    """One importable field: its name, the validator type, its largest length."""

    name: str
    type: str = "text"
    max_length: int | None = None
    help: str = ""
    #: NUMERIC (precision, scale) of an ``amount`` or ``decimal`` field's column, when it is
    #: not the money columns' (14, 2)
    digits: tuple[int, int] | None = None


@dataclass(frozen=True)
class Kind:
    """One kind of import: the records it creates and the fields it reads."""

    name: str
    entity: str
    title: str
    fields: tuple[Field, ...]
    #: Every one of these must be mapped (a tuple inside means "one of").
    required: tuple[str | tuple[str, ...], ...] = ()
    #: Whether columns can become catalogue attributes and identifiers.
    extensible: bool = False

    def field(self, name: str) -> Field | None:
        """The field called ``name``, or None."""
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


_CONTACT = (
    Field("email", "email", 320, "email address (checked; common domain typos refused)"),
    Field("phone", "phone", 64, "phone number, stored in E.164 (+33612345678)"),
    Field("mobile", "phone", 64, "a second, mobile phone number"),
    Field("line1", "text", 300, "street and number"),
    Field(
        "street_number",
        "text",
        16,
        "house number in its own column: put before the street in line1 (FR, US, GB, AU…) "
        "or after it (DE, ES, IT, NL…) by the address's country",
    ),
    Field("line2", "text", 300, "address complement"),
    Field("postal_code", "postal_code", 16, "postal code"),
    Field("locality", "text", 200, "town or city (completed from the postal code)"),
    Field("region", "text", 200, "state, province, département…"),
    Field("country", "country", 2, "country: ISO code or name in any language"),
)

#: The person's own fields (:data:`closedloop.contacts.fields.PERSON_FIELDS`), as import fields.
_PERSON = tuple(Field(f.name, f.type, f.max_length, f.help) for f in PERSON_FIELDS)

PERSONS = Kind(
    name="persons",
    entity="person",
    title="Persons",
    fields=(
        Field("external_id", "key", 128, "the person's id in the source system"),
        *_PERSON[:3],
        Field("full_name", "full_name", 400, "a whole name, split into given and family name"),
        *_PERSON[3:],
        *_CONTACT,
    ),
    required=(("external_id", "given_name", "family_name", "full_name", "email", "phone"),),
    extensible=True,
)

ORGANISATIONS = Kind(
    name="organisations",
    entity="organisation",
    title="Organisations",
    fields=(
        Field("external_id", "key", 128, "the organisation's id in the source system"),
        Field("name", "text", 300, "company name"),
        Field("legal_form", "text", 64, "SA, SARL, GmbH, SRL…"),
        Field("registration_number", "text", 64, "SIREN/SIRET, VAT or trade register number"),
        Field("industry", "text", 64, "industry code or name"),
        Field("employee_count", "int", None, "number of employees"),
        Field("annual_revenue", "amount", None, "annual revenue", digits=(16, 2)),
        Field("website", "text", 300, "web site"),
        *_CONTACT,
    ),
    required=("name",),
    extensible=True,
)

RELATIONSHIPS = Kind(
    name="relationships",
    entity="relationship",
    title="Relationships",
    fields=(
        Field("person_external_id", "key", 128, "the person holding the link"),
        Field("kind", "relationship_kind", 32, "family, employee_of, decision_maker…"),
        Field("related_person_external_id", "key", 128, "the other person"),
        Field("organisation_external_id", "key", 128, "the organisation"),
        Field("household", "text", 200, "a household name (created if new)"),
        Field("role", "text", 100, "role, e.g. purchasing manager"),
        Field("starts_on", "date", None, "start date"),
        Field("ends_on", "date", None, "end date"),
    ),
    required=(
        "person_external_id",
        "kind",
        ("related_person_external_id", "organisation_external_id", "household"),
    ),
)

CONSENTS = Kind(
    name="consents",
    entity="consent",
    title="Consents",
    fields=(
        Field("person_external_id", "key", 128, "the person"),
        Field("channel", "channel", 16, "email, sms, phone, letter, event"),
        Field("purpose", "purpose", 32, "marketing, newsletter, surveys, events, partners"),
        Field("state", "consent_state", 16, "granted or withdrawn (yes/no, opt-in/opt-out…)"),
        Field("occurred_at", "datetime", None, "when the person gave or withdrew consent"),
        Field("method", "consent_method", 32, "web_form, paper, agent… (import by default)"),
        Field("proof_text", "text", 5000, "the text the person agreed to"),
        Field("proof_version", "text", 32, "version of that text"),
        Field("ip_address", "text", 64, "IP address of a web consent"),
    ),
    required=("person_external_id", "channel", "state", "occurred_at"),
)

ATTRIBUTES = Kind(
    name="attributes",
    entity="attribute_value",
    title="Attribute values",
    fields=(
        Field("person_external_id", "key", 128, "the person"),
        Field("attribute", "text", 200, "attribute code or label (any language)"),
        Field("value", "text", 1000, "the value; a choice by code or label"),
    ),
    required=("person_external_id", "attribute", "value"),
)

PRODUCTS = Kind(
    name="products",
    entity="product",
    title="Products",
    fields=(
        Field("external_id", "key", 128, "the product's id in the source system"),
        Field("sku", "text", 64, "stock-keeping unit (article number)"),
        Field("name", "text", 300, "product name"),
        Field("category", "text", 200, "category code or name (created if new)"),
        Field("unit_price", "amount", None, "price per unit (decimal comma accepted)"),
        Field("currency", "currency", 3, "ISO currency, EUR by default"),
        Field("is_active", "bool", None, "still sold"),
    ),
    required=(("external_id", "sku"), "name"),
)

ORDERS = Kind(
    name="orders",
    entity="order",
    title="Orders",
    fields=(
        Field("external_id", "key", 128, "the order number in the source system"),
        Field("person_external_id", "key", 128, "the buyer (a person of the same source)"),
        Field("organisation_external_id", "key", 128, "or the buying organisation"),
        Field("ordered_at", "datetime", None, "order date and time"),
        Field("total_amount", "amount", None, "order total"),
        Field("currency", "currency", 3, "ISO currency, EUR by default"),
        Field("channel", "text", 32, "web, shop, phone…"),
        Field("status", "text", 16, "completed, cancelled, returned…"),
        Field("supplier", "text", 100, "a competitor's name for purchases made elsewhere"),
    ),
    required=(
        "external_id",
        ("person_external_id", "organisation_external_id"),
        "ordered_at",
        "total_amount",
    ),
)

ORDER_LINES = Kind(
    name="order_lines",
    entity="order_line",
    title="Order lines",
    fields=(
        Field("order_external_id", "key", 128, "the order (of the same source)"),
        Field("line_no", "int", None, "line number within the order"),
        Field("sku", "text", 64, "the product's SKU"),
        Field("product_external_id", "key", 128, "or the product's id in the source"),
        Field(
            "quantity", "decimal", None, "quantity (1 by default; negative for a return)", (12, 3)
        ),
        Field("unit_price", "amount", None, "price per unit"),
        Field("amount", "amount", None, "line amount (quantity × unit price by default)"),
    ),
    required=("order_external_id", ("sku", "product_external_id")),
)

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        PERSONS,
        ORGANISATIONS,
        RELATIONSHIPS,
        CONSENTS,
        ATTRIBUTES,
        PRODUCTS,
        ORDERS,
        ORDER_LINES,
    )
}
#: Other spellings of the kinds accepted on the command line.
KIND_ALIASES = {
    "person": "persons",
    "organisation": "organisations",
    "organization": "organisations",
    "organizations": "organisations",
    "relationship": "relationships",
    "consent": "consents",
    "attribute": "attributes",
    "attribute_values": "attributes",
    "product": "products",
    "order": "orders",
    "order_line": "order_lines",
    "lines": "order_lines",
}


def get_kind(name: str) -> Kind:
    """The kind called ``name`` (or one of its aliases); ValueError lists the kinds."""
    key = name.strip().lower().replace("-", "_")
    key = KIND_ALIASES.get(key, key)
    if key not in KINDS:
        raise ValueError(f"Unknown kind {name!r}; use one of {', '.join(KINDS)}.")
    return KINDS[key]
