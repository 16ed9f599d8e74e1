"""What each role may do (M20). One table, checked by every entry point."""

from __future__ import annotations

from enum import StrEnum

from closedloop.errors import PermissionDenied
from closedloop.vocab import Role


class Permission(StrEnum):
    PERSONS_READ = "persons:read"
    PERSONS_WRITE = "persons:write"
    PERSONS_DELETE = "persons:delete"
    PERSONS_EXPORT = "persons:export"
    CAMPAIGNS_MANAGE = "campaigns:manage"
    ANALYTICS_RUN = "analytics:run"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    JOBS_READ = "jobs:read"
    JOBS_MANAGE = "jobs:manage"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MARKETER: frozenset(
        {
            P.PERSONS_READ,
            P.PERSONS_WRITE,
            P.PERSONS_EXPORT,
            P.CAMPAIGNS_MANAGE,
            P.ANALYTICS_RUN,
            P.JOBS_READ,
        }
    ),
    Role.ANALYST: frozenset({P.PERSONS_READ, P.PERSONS_EXPORT, P.ANALYTICS_RUN, P.JOBS_READ}),
    Role.AGENT: frozenset({P.PERSONS_READ, P.PERSONS_WRITE}),
}


def allowed(role: str, permission: Permission) -> bool:
    """True when ``role`` grants ``permission``; unknown roles grant nothing."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def require(role: str, permission: Permission) -> None:
    """Raise PermissionDenied unless ``role`` grants ``permission``."""
    if not allowed(role, permission):
        raise PermissionDenied(f"Your role ({role}) does not allow {permission.value}.")
