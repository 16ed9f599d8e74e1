"""Bearer-token authentication and per-route permissions.

Routes take :data:`closedloop.deps.DbSession`, whose commit runs before the response is sent
(with FastAPI's default ``scope="request"`` the code after ``yield`` runs only after the
response has gone out, so a failing commit could still answer 200).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from closedloop.access import declare
from closedloop.bootstrap import get_session_factory
from closedloop.db.uow import unit_of_work
from closedloop.errors import AuthenticationFailed
from closedloop.settings import get_settings
from closedloop.users import permissions, throttle
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Audience, Permission

#: The one message of every 401, so that no answer tells whether a user or token exists.
UNAUTHORIZED = "A valid API token is required: send Authorization: Bearer <token>."

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token created with `closedloop users token USERNAME`.",
)


def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The active user owning the bearer token; 401 when it is missing, unknown or revoked.

    The token is checked (and its ``last_used_at`` stamped) in a short transaction of its own,
    so that parallel requests made with one token do not queue on the token's row for the
    whole length of each request.
    """
    if credentials is None or not credentials.credentials:
        raise AuthenticationFailed(UNAUTHORIZED)
    try:
        with unit_of_work(get_session_factory()) as session:
            return users_service.user_for_token(session, credentials.credentials)
    except AuthenticationFailed:
        raise AuthenticationFailed(UNAUTHORIZED) from None


declare(current_user, Audience.AUTHENTICATED)
CurrentUser = Annotated[User, Depends(current_user)]


def requires(permission: Permission) -> Callable[[User], User]:
    """A dependency giving the current user, or 403 when their role lacks ``permission``."""

    def check(user: CurrentUser) -> User:
        permissions.require(user.role, permission)
        return user

    check.__name__ = f"requires_{permission.name.lower()}"
    return declare(check, permission)


def limit_job_creation(user: CurrentUser) -> User:
    """Count one job started by the user; past ``CLOSEDLOOP_JOB_RATE_LIMIT`` per
    ``CLOSEDLOOP_JOB_RATE_WINDOW_SECONDS`` a 429 problem with ``Retry-After``."""
    settings = get_settings()
    limit = throttle.Limit(
        "jobs.create", settings.job_rate_limit, timedelta(seconds=settings.job_rate_window_seconds)
    )
    with unit_of_work(get_session_factory()) as session:
        throttle.enforce(session, limit, str(user.id), "jobs started")
    return user


#: Put in the ``dependencies`` of a route that starts a job (after its permission).
JOB_QUOTA = Depends(limit_job_creation)

PersonsReader = Annotated[User, Depends(requires(Permission.PERSONS_READ))]
PersonsWriter = Annotated[User, Depends(requires(Permission.PERSONS_WRITE))]
PersonsDeleter = Annotated[User, Depends(requires(Permission.PERSONS_DELETE))]
#: Rolling back an import batch is a mass delete: a permission of its own (admin by default).
ImportsRollbacker = Annotated[User, Depends(requires(Permission.IMPORTS_ROLLBACK))]
