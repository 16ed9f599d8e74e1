"""ORM models of the customer record (M1–M3): who a person is and how to reach them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from closedloop.contacts.normalize import is_cjk
from closedloop.db.base import Base, BigId, created_at, int_pk, str_source, utcnow
from closedloop.db.types import JsonDoc, search_key
from closedloop.vocab import AddressStatus, LifecycleStatus


class Lineage:
    """Where a record came from: source system, its id there, and the import batch."""

    source_system: Mapped[str_source]
    external_id: Mapped[str | None] = mapped_column(String(128))
    import_batch_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("import_batches.id", ondelete="SET NULL")
    )


class Household(Base):
    """People living together; campaigns can address one person per household."""

    __tablename__ = "households"
    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[created_at]


class Organisation(Lineage, Base):
    """A company or other body: a customer itself, or the employer of persons (M2, M3)."""

    __tablename__ = "organisations"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)
    id: Mapped[int_pk]
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(search_key(300), index=True)
    legal_form: Mapped[str | None] = mapped_column(String(64))
    registration_number: Mapped[str | None] = mapped_column(String(64), index=True)
    industry: Mapped[str | None] = mapped_column(String(64))
    employee_count: Mapped[int | None] = mapped_column(Integer)
    annual_revenue: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    website: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Person(Lineage, Base):
    """One customer or prospect: identity, lifecycle and preferences (M1).

    ``version`` is the optimistic lock: an update that read an older version fails.
    ``merged_into_id`` links a source record to its golden record after a merge.
    """

    __tablename__ = "persons"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        Index("ix_persons_family_key_given_key", "family_key", "given_key"),
        # Partial: it serves "sources of this golden record"; golden records (NULL) stay out,
        # so the planner never scans it for the usual merged_into_id IS NULL filter.
        Index(
            "ix_persons_merged_into_id",
            "merged_into_id",
            sqlite_where=text("merged_into_id IS NOT NULL"),
            postgresql_where=text("merged_into_id IS NOT NULL"),
        ),
    )
    id: Mapped[int_pk]
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    lifecycle_status: Mapped[str] = mapped_column(
        String(16), default=LifecycleStatus.PROSPECT.value, index=True
    )
    salutation: Mapped[str | None] = mapped_column(String(32))
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    # Search keys: lower case, accents stripped, non-Latin scripts kept as they are.
    given_key: Mapped[str | None] = mapped_column(search_key(200), index=True)
    family_key: Mapped[str | None] = mapped_column(search_key(200))
    gender: Mapped[str | None] = mapped_column(String(16))
    birth_date: Mapped[date | None] = mapped_column(Date)
    language: Mapped[str | None] = mapped_column(String(16))
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    preferred_time: Mapped[str | None] = mapped_column(String(32))
    merged_into_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="SET NULL")
    )
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    emails: Mapped[list[Email]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Email.id"
    )
    phones: Mapped[list[Phone]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Phone.id"
    )
    addresses: Mapped[list[Address]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Address.id"
    )
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def display_name(self) -> str:
        """The name as its culture writes it (王伟 family first, no space; Jean Dupont), or #id."""
        if self.family_name and is_cjk(self.family_name):
            return f"{self.family_name}{self.given_name or ''}"
        parts = [p for p in (self.given_name, self.family_name) if p]
        return " ".join(parts) if parts else f"#{self.id}"


def _owner_check(table: str) -> CheckConstraint:
    return CheckConstraint(
        "(person_id IS NOT NULL) OR (organisation_id IS NOT NULL)", name=f"{table}_has_owner"
    )


def _organisation_index(table: str) -> Index:
    """The ``organisation_id`` index of a table whose rows mostly belong to persons: partial,
    so that a person's row adds no entry (an import of persons writes one index less)."""
    where = text("organisation_id IS NOT NULL")
    return Index(
        f"ix_{table}_organisation_id", "organisation_id", sqlite_where=where,
        postgresql_where=where,
    )  # fmt: skip


class ContactPoint:
    """Columns every contact point has: owner, kind, validity, primary flag, source."""

    person_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("organisations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16), default="private")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    is_valid: Mapped[bool] = mapped_column(Boolean, default=True)
    source_system: Mapped[str_source]
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Email(ContactPoint, Base):
    """An email address; ``address_key`` is the lower-cased form used for search and matching."""

    __tablename__ = "emails"
    __table_args__ = (_owner_check("emails"), _organisation_index("emails"))
    id: Mapped[int_pk]
    address: Mapped[str] = mapped_column(String(320))
    address_key: Mapped[str] = mapped_column(search_key(320), index=True)
    person: Mapped[Person | None] = relationship(back_populates="emails")


class Phone(ContactPoint, Base):
    """A phone number in E.164 (``+33612345678``), as entered in ``raw``."""

    __tablename__ = "phones"
    __table_args__ = (_owner_check("phones"), _organisation_index("phones"))
    id: Mapped[int_pk]
    e164: Mapped[str] = mapped_column(search_key(20), index=True)
    raw: Mapped[str | None] = mapped_column(String(64))
    line_type: Mapped[str] = mapped_column(String(16), default="mobile")
    person: Mapped[Person | None] = relationship(back_populates="phones")


class Address(ContactPoint, Base):
    """A postal address with its check status (valid, corrected, suspect…) and coordinates."""

    __tablename__ = "addresses"
    __table_args__ = (_owner_check("addresses"), _organisation_index("addresses"))
    id: Mapped[int_pk]
    line1: Mapped[str | None] = mapped_column(String(300))
    line2: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(search_key(16), index=True)
    locality: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default=AddressStatus.UNCHECKED.value)
    status_detail: Mapped[str | None] = mapped_column(String(300))
    person: Mapped[Person | None] = relationship(back_populates="addresses")


class Relationship(Base):
    """A typed link from a person to a person, an organisation or a household (M2)."""

    __tablename__ = "relationships"
    __table_args__ = (
        CheckConstraint(
            "(related_person_id IS NOT NULL) OR (organisation_id IS NOT NULL) "
            "OR (household_id IS NOT NULL)",
            name="relationships_has_target",
        ),
    )
    id: Mapped[int_pk]
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    related_person_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    household_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str | None] = mapped_column(String(100))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    source_system: Mapped[str_source]
    created_at: Mapped[created_at]


class Identifier(Base):
    """An extra identifier of a person (customer number, national id) in a named scheme.

    Several persons may hold the same value: two records sharing a national id are the
    strongest evidence of one person, and identity resolution links them (a deterministic
    rule of ``closedloop.dedupe``) rather than the import refusing the second one.
    """

    __tablename__ = "identifiers"
    __table_args__ = (
        UniqueConstraint("person_id", "scheme", "value"),
        Index("ix_identifiers_scheme_value", "scheme", "value"),
    )
    id: Mapped[int_pk]
    person_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    scheme: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(128))
    source_system: Mapped[str_source]
    created_at: Mapped[created_at]


class AttributeDefinition(Base):
    """A typed field of the catalogue (M3); labels per language in ``labels``."""

    __tablename__ = "attribute_definitions"
    id: Mapped[int_pk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    labels: Mapped[dict[str, str]] = mapped_column(JsonDoc, default=dict)
    group: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(32))
    applies_to: Mapped[str] = mapped_column(String(16), default="person")
    created_at: Mapped[created_at]
    choices: Mapped[list[AttributeChoice]] = relationship(
        back_populates="definition",
        cascade="all, delete-orphan",
        order_by="AttributeChoice.position",
    )


class AttributeChoice(Base):
    """One allowed value of a choice or multi-choice attribute."""

    __tablename__ = "attribute_choices"
    __table_args__ = (UniqueConstraint("definition_id", "code"),)
    id: Mapped[int_pk]
    definition_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("attribute_definitions.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(64))
    labels: Mapped[dict[str, str]] = mapped_column(JsonDoc, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    definition: Mapped[AttributeDefinition] = relationship(back_populates="choices")


class AttributeValue(Base):
    """A value of a catalogue attribute for a person or organisation.

    Exactly one ``value_*`` column is used, by the definition's type; a multi-choice
    attribute has one row per chosen value.
    """

    __tablename__ = "attribute_values"
    __table_args__ = (
        _owner_check("attribute_values"),
        _organisation_index("attribute_values"),
        Index("ix_attribute_values_definition_choice", "definition_id", "choice_id"),
    )
    id: Mapped[int_pk]
    definition_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("attribute_definitions.id", ondelete="CASCADE")
    )
    person_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("organisations.id", ondelete="CASCADE")
    )
    value_number: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    value_date: Mapped[date | None] = mapped_column(Date)
    value_bool: Mapped[bool | None] = mapped_column(Boolean)
    value_text: Mapped[str | None] = mapped_column(String(1000))
    choice_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("attribute_choices.id", ondelete="CASCADE")
    )
    source_system: Mapped[str_source]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
