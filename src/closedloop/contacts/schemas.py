"""Pydantic schemas of persons and contact points: Create, Update and Public forms."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from closedloop.contacts.normalize import clean_text
from closedloop.contacts.validation import NOBODY, check_text, identifies
from closedloop.db.types import DbId
from closedloop.vocab import Channel, ContactKind, LifecycleStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


def _country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValueError("must be a two-letter ISO 3166 country code such as FR")
    return code


Country = Annotated[str, AfterValidator(_country)]


class _Schema(BaseModel):
    """Each schema's validator is built when first used, not at import: the commands that
    import this module (``closedloop persons list``) use one of them."""

    model_config = ConfigDict(defer_build=True)


class _Texts(_Schema):
    """Refuses a control character (NUL…) in any text field, naming the field."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_controls(cls, value: Any) -> Any:
        return check_text(value)


class EmailCreate(_Texts):
    """An email address to store; syntax is checked by the service."""

    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
    kind: ContactKind = ContactKind.PRIVATE
    is_primary: bool = False


class PhoneCreate(_Texts):
    """A phone number in any common form; stored in E.164."""

    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=64)]
    country: Country | None = Field(None, description="Country for national numbers (ISO 3166).")
    kind: ContactKind = ContactKind.PRIVATE
    is_primary: bool = False


class AddressCreate(_Texts):
    """A postal address."""

    line1: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    line2: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] | None = (
        None
    )
    locality: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    country: Country | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    kind: ContactKind = ContactKind.PRIVATE
    is_primary: bool = False

    def places(self) -> bool:
        """True when the address says where (a street, a postal code or a town), not only
        a country."""
        return bool(self.line1 or self.postal_code or self.locality)


class PersonBase(_Texts):
    """Fields a user may set on a person."""

    model_config = ConfigDict(extra="forbid")

    salutation: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = (
        None
    )
    given_name: Name | None = None
    family_name: Name | None = None
    gender: Annotated[str, StringConstraints(pattern=r"^(female|male|diverse|unknown)$")] | None = (
        None
    )
    birth_date: date | None = None
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")] | None = None
    lifecycle_status: LifecycleStatus | None = None
    preferred_channel: Channel | None = None
    preferred_time: Annotated[str, StringConstraints(max_length=32)] | None = None

    @field_validator("given_name", "family_name", "salutation", mode="after")
    @classmethod
    def _collapse(cls, value: str | None) -> str | None:
        return clean_text(value)

    @field_validator("birth_date")
    @classmethod
    def _not_future(cls, value: date | None) -> date | None:
        if value is not None and value > date.today():
            raise ValueError("birth date is in the future")
        if value is not None and value.year < 1900:
            raise ValueError("birth date is before 1900")
        return value


class PersonCreate(PersonBase):
    """A new person, with optional contact points and origin."""

    emails: list[EmailCreate] = Field(default_factory=list, max_length=20)
    phones: list[PhoneCreate] = Field(default_factory=list, max_length=20)
    addresses: list[AddressCreate] = Field(default_factory=list, max_length=20)
    source_system: Annotated[str, StringConstraints(max_length=64)] | None = None
    external_id: Annotated[str, StringConstraints(max_length=128)] | None = None

    @model_validator(mode="after")
    def _names_someone(self) -> PersonCreate:
        if not identifies(
            given_name=self.given_name,
            family_name=self.family_name,
            emails=self.emails,
            phones=self.phones,
            birth_date=self.birth_date,
            address=any(a.places() for a in self.addresses),
        ):
            raise ValueError(NOBODY)
        return self


class PersonUpdate(PersonBase):
    """A partial update; ``version`` must be the version the client read (optimistic lock).

    Lists of contact points, when given, replace the stored ones.
    """

    version: DbId = Field(..., description="The version read; a stale one gives 409.")
    emails: list[EmailCreate] | None = Field(None, max_length=20)
    phones: list[PhoneCreate] | None = Field(None, max_length=20)
    addresses: list[AddressCreate] | None = Field(None, max_length=20)


class EmailPublic(_Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    address: str
    kind: str
    is_primary: bool
    is_valid: bool


class PhonePublic(_Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    e164: str
    line_type: str
    kind: str
    is_primary: bool
    is_valid: bool


class AddressPublic(_Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    line1: str | None
    line2: str | None
    postal_code: str | None
    locality: str | None
    region: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    status: str
    kind: str
    is_primary: bool


class PersonPublic(_Schema):
    """A person as the API returns it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int
    lifecycle_status: str
    salutation: str | None
    given_name: str | None
    family_name: str | None
    gender: str | None
    birth_date: date | None
    language: str | None
    preferred_channel: str | None
    preferred_time: str | None
    source_system: str | None
    external_id: str | None
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime
    emails: list[EmailPublic]
    phones: list[PhonePublic]
    addresses: list[AddressPublic]


class PersonFilter(_Schema):
    """Search and filter criteria of the persons list (all optional, combined with AND)."""

    q: str | None = Field(None, description="Free search: name, email, phone or postal code.")
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_code: str | None = None
    lifecycle_status: LifecycleStatus | None = None
    country: str | None = None

    def is_empty(self) -> bool:
        """True when no criterion is set."""
        return not any(v for v in self.model_dump().values())


class Page(_Schema):
    """One page of a listing."""

    items: list[Any]
    total: int | None
    limit: int
    offset: int
