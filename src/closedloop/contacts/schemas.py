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
)

from closedloop.contacts.normalize import clean_text
from closedloop.vocab import Channel, ContactKind, LifecycleStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


def _country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValueError("must be a two-letter ISO 3166 country code such as FR")
    return code


Country = Annotated[str, AfterValidator(_country)]


class EmailIn(BaseModel):
    """An email address to store; syntax is checked by the service."""

    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
    kind: ContactKind = ContactKind.PRIVATE
    is_primary: bool = False


class PhoneIn(BaseModel):
    """A phone number in any common form; stored in E.164."""

    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=64)]
    country: Country | None = Field(None, description="Country for national numbers (ISO 3166).")
    kind: ContactKind = ContactKind.PRIVATE
    is_primary: bool = False


class AddressIn(BaseModel):
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


class PersonBase(BaseModel):
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

    emails: list[EmailIn] = Field(default_factory=list, max_length=20)
    phones: list[PhoneIn] = Field(default_factory=list, max_length=20)
    addresses: list[AddressIn] = Field(default_factory=list, max_length=20)
    source_system: Annotated[str, StringConstraints(max_length=64)] | None = None
    external_id: Annotated[str, StringConstraints(max_length=128)] | None = None


class PersonUpdate(PersonBase):
    """A partial update; ``version`` must be the version the client read (optimistic lock).

    Lists of contact points, when given, replace the stored ones.
    """

    version: int = Field(..., ge=1, description="The version read; a stale one gives 409.")
    emails: list[EmailIn] | None = Field(None, max_length=20)
    phones: list[PhoneIn] | None = Field(None, max_length=20)
    addresses: list[AddressIn] | None = Field(None, max_length=20)


class EmailPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    address: str
    kind: str
    is_primary: bool
    is_valid: bool


class PhonePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    e164: str
    line_type: str
    kind: str
    is_primary: bool
    is_valid: bool


class AddressPublic(BaseModel):
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


class PersonPublic(BaseModel):
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


class PersonFilter(BaseModel):
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


class Page(BaseModel):
    """One page of a listing."""

    items: list[Any]
    total: int | None
    limit: int
    offset: int
