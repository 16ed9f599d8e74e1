"""Sign-up forms (M6): what a public form offers and the confirmation email it sends.

A form offers *topics* (each mapped to a consent purpose) and *channels*; it shows a proof
text with a version, which goes into the ledger with every grant it leads to. The
confirmation email is a plain template with ``{placeholders}`` filled by :func:`substitute`:
only the listed names are replaced, by plain text, so neither a marketer's template nor a
visitor's input can run code or read attributes (no ``str.format``, no Jinja).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from closedloop.consent.models import SignupForm
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.vocab import Channel, Purpose

#: Names a confirmation subject or body may use.
PLACEHOLDERS = ("link", "given_name", "family_name", "form_title")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Anything in braces, so ``{name.attr}`` or ``{0}`` is refused rather than left in the text.
_BRACED = re.compile(r"\{([^{}\n]*)\}")
_SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
DEFAULT_SUBJECT = "Please confirm your subscription"
DEFAULT_BODY = (
    "Hello {given_name},\n\n"
    "please confirm that you want to receive our news ({form_title}) by opening this link:\n\n"
    "{link}\n\n"
    "If you did not ask for this, ignore this message: nothing will be sent to you."
)

Slug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=_SLUG)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def placeholders_in(template: str) -> set[str]:
    """The ``{names}`` a template uses."""
    return set(_PLACEHOLDER.findall(template))


def substitute(template: str, values: dict[str, str]) -> str:
    """Replace each known ``{name}`` by its value, verbatim; anything else stays as written."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return _PLACEHOLDER.sub(one, template)


def _check_template(value: str, *, need_link: bool) -> str:
    unknown = set(_BRACED.findall(value)) - set(PLACEHOLDERS)
    if unknown:
        names = ", ".join("{" + n + "}" for n in sorted(unknown))
        allowed = ", ".join("{" + n + "}" for n in PLACEHOLDERS)
        raise ValueError(f"unknown placeholder {names}; use {allowed}")
    if need_link and "link" not in placeholders_in(value):
        raise ValueError("must contain {link}, the confirmation link")
    return value


class Topic(BaseModel):
    """One thing a person can subscribe to, recorded in the ledger as its purpose."""

    code: Slug
    label: Line
    purpose: Purpose


class SignupFormBase(BaseModel):
    """Fields shared by creating and reading a form."""

    model_config = ConfigDict(extra="forbid")

    title: Line
    intro: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] | None = None
    topics: list[Topic] = Field(min_length=1, max_length=20)
    channels: list[Channel] = Field(min_length=1, max_length=5)
    proof_text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=10, max_length=4000)
    ]
    proof_version: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)
    ]
    confirm_subject: Line = DEFAULT_SUBJECT
    confirm_body: Annotated[str, StringConstraints(min_length=1, max_length=20000)] = DEFAULT_BODY
    redirect_url: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None
    ) = None
    is_active: bool = True

    @field_validator("confirm_subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        return _check_template(value, need_link=False)

    @field_validator("confirm_body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _check_template(value, need_link=True)

    @field_validator("redirect_url")
    @classmethod
    def _redirect(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.match(r"^https?://[^\s/?#]+", value) or any(c.isspace() for c in value):
            raise ValueError("must be an http:// or https:// address")
        return value

    @field_validator("topics")
    @classmethod
    def _unique_topics(cls, value: list[Topic]) -> list[Topic]:
        codes = [t.code for t in value]
        if len(codes) != len(set(codes)):
            raise ValueError("each topic needs its own code")
        return value

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, value: list[Channel]) -> list[Channel]:
        return list(dict.fromkeys(value))


class SignupFormCreate(SignupFormBase):
    """A new form; ``slug`` names its public address ``/signup/<slug>``."""

    slug: Slug


class SignupFormPublic(SignupFormBase):
    """A stored form."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")
    id: int
    slug: str


def _validation(exc: Exception) -> ValidationFailed:
    assert isinstance(exc, ValidationError)
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or "form", "message": e["msg"]}
        for e in exc.errors()
    ]
    return ValidationFailed("The sign-up form is not valid.", errors=errors)


def _apply(form: SignupForm, data: SignupFormBase) -> None:
    for name in (
        "title",
        "intro",
        "proof_text",
        "proof_version",
        "confirm_subject",
        "confirm_body",
        "redirect_url",
        "is_active",
    ):
        setattr(form, name, getattr(data, name))
    form.topics = [t.model_dump(mode="json") for t in data.topics]
    form.channels = [c.value for c in data.channels]


def validate_form(values: dict[str, Any], *, create: bool) -> SignupFormBase:
    """``values`` checked as a form definition; :class:`ValidationFailed` names each field."""
    model: type[SignupFormBase] = SignupFormCreate if create else SignupFormBase
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _validation(exc) from exc


def create_form(
    session: Session, data: SignupFormCreate, *, created_by: str | None = None
) -> SignupForm:
    """Store a new sign-up form; 409 when its slug is taken."""
    if session.scalar(select(SignupForm.id).where(SignupForm.slug == data.slug)) is not None:
        raise Conflict(f"A sign-up form named {data.slug!r} already exists.")
    form = SignupForm(slug=data.slug, created_by=created_by)
    _apply(form, data)
    session.add(form)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A sign-up form named {data.slug!r} already exists.") from exc
    return form


def update_form(session: Session, form_id: int, data: SignupFormBase) -> SignupForm:
    """Replace a form's definition (its slug, the public address, stays)."""
    form = get_form(session, form_id)
    _apply(form, data)
    session.flush()
    return form


def get_form(session: Session, form_id: int) -> SignupForm:
    """The form with this id; NotFound otherwise."""
    form = session.get(SignupForm, form_id)
    if form is None:
        raise NotFound(f"Sign-up form {form_id} does not exist.")
    return form


def form_by_slug(session: Session, slug: str, *, active_only: bool = True) -> SignupForm:
    """The (active) form published at ``/signup/<slug>``; NotFound otherwise."""
    form = session.scalar(select(SignupForm).where(SignupForm.slug == slug[:64]))
    if form is None or (active_only and not form.is_active):
        raise NotFound(f"There is no sign-up form {slug!r}.")
    return form


def list_forms(session: Session) -> list[SignupForm]:
    """Every sign-up form, by slug."""
    return list(session.scalars(select(SignupForm).order_by(SignupForm.slug)))


def form_dict(form: SignupForm) -> dict[str, Any]:
    """A form as a JSON-able dict (API, CLI)."""
    return SignupFormPublic.model_validate(form).model_dump(mode="json")
