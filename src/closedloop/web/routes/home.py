"""The start page after login."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from closedloop.users.models import User
from closedloop.web.rendering import render
from closedloop.web.routes import page_router
from closedloop.web.security import current_user

router = page_router()


@router.get("/", response_class=Response)
def home(request: Request, user: Annotated[User, Depends(current_user)]) -> Response:
    """Greeting, the person search box and the sections the user's role opens."""
    return render(request, "home/index.html", {"active": "home"})
