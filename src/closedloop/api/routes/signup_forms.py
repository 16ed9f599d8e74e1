"""``/api/v1/signup-forms``: the public sign-up forms (list, create, read, replace).

A form's public page is ``/signup/<slug>``; a visitor's submission is confirmed by double
opt-in before any consent is recorded (see docs/howto/signup-and-preferences.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status
from pydantic import Field

from closedloop.api.auth import requires
from closedloop.api.problems import problem_responses
from closedloop.consent import forms as service
from closedloop.consent.forms import SignupFormBase, SignupFormCreate, SignupFormPublic
from closedloop.consent.messages import public_url
from closedloop.db.types import DbId
from closedloop.deps import DbSession
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.users.service import audit

router = APIRouter(prefix="/signup-forms", tags=["signup-forms"])
Manager = Annotated[User, Depends(requires(Permission.CAMPAIGNS_MANAGE))]
FormId = Annotated[DbId, Path(description="The form's id.")]


class SignupFormPagePublic(SignupFormPublic):
    """A stored form and the address of its public page."""

    public_url: str = Field(description="The page to link to or embed in an iframe.")


def _public(form: object) -> SignupFormPagePublic:
    public = SignupFormPublic.model_validate(form)
    return SignupFormPagePublic(
        **public.model_dump(), public_url=public_url(f"/signup/{public.slug}")
    )


@router.get("", response_model=list[SignupFormPagePublic], responses=problem_responses(401, 403))
def list_signup_forms(db: DbSession, user: Manager) -> list[SignupFormPagePublic]:
    """Every sign-up form, by slug."""
    return [_public(f) for f in service.list_forms(db)]


@router.post(
    "",
    response_model=SignupFormPagePublic,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
)
def create_signup_form(
    db: DbSession, user: Manager, data: SignupFormCreate
) -> SignupFormPagePublic:
    """Create a form: topics (each mapped to a purpose), channels, the consent text and its
    version, the confirmation email (placeholders ``{link}``, ``{given_name}``,
    ``{family_name}``, ``{form_title}``) and where to go after confirmation."""
    form = service.create_form(db, data, created_by=user.username)
    audit(db, user, "create", "signup_form", form.id, channel="api")
    return _public(form)


@router.get(
    "/{form_id}", response_model=SignupFormPagePublic, responses=problem_responses(401, 403, 404)
)
def get_signup_form(db: DbSession, user: Manager, form_id: FormId) -> SignupFormPagePublic:
    """One sign-up form."""
    return _public(service.get_form(db, form_id))


@router.put(
    "/{form_id}",
    response_model=SignupFormPagePublic,
    responses=problem_responses(401, 403, 404, 422),
)
def replace_signup_form(
    db: DbSession, user: Manager, form_id: FormId, data: SignupFormBase
) -> SignupFormPagePublic:
    """Replace a form's definition; its slug (public address) stays. Raise the proof version
    when the consent text changes: grants keep the version they were given under."""
    form = service.update_form(db, form_id, data)
    audit(db, user, "update", "signup_form", form.id, channel="api")
    return _public(form)
