"""``/api/v1/me``: who the token belongs to and what their role allows."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from closedloop.api.auth import CurrentUser
from closedloop.api.problems import problem_responses
from closedloop.users.permissions import Permission, allowed

router = APIRouter(tags=["users"])


class Me(BaseModel):
    """The user behind the bearer token."""

    username: str
    full_name: str | None
    email: str | None
    role: str
    permissions: list[str] = Field(description='What the role allows, e.g. "persons:read".')


@router.get("/me", response_model=Me, responses=problem_responses(401))
def get_me(user: CurrentUser) -> Me:
    """The user the token belongs to, their role and its permissions: a quick token check."""
    return Me(
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        role=user.role,
        permissions=[p.value for p in Permission if allowed(user.role, p)],
    )
