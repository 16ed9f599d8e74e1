"""What each role may do (M20). One table, checked by every entry point."""

from __future__ import annotations

from enum import StrEnum

from closedloop.errors import PermissionDenied
from closedloop.vocab import Role


class Permission(StrEnum):
    """One thing a role may do; routes declare the one they need (see closedloop.access)."""

    PERSONS_READ = "persons:read"
    PERSONS_WRITE = "persons:write"
    PERSONS_DELETE = "persons:delete"
    PERSONS_EXPORT = "persons:export"
    CAMPAIGNS_MANAGE = "campaigns:manage"
    CAMPAIGNS_READ = "campaigns:read"
    CAMPAIGNS_WRITE = "campaigns:write"
    CAMPAIGNS_APPROVE = "campaigns:approve"
    CAMPAIGNS_SEND = "campaigns:send"
    ANALYTICS_RUN = "analytics:run"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    JOBS_READ = "jobs:read"
    JOBS_MANAGE = "jobs:manage"
    OUTBOX_READ = "outbox:read"  # the emails caught by the demo's mail catcher (admins)
    IMPORTS_ROLLBACK = "imports:rollback"


class Audience(StrEnum):
    """Who may call a route that needs no particular permission."""

    #: anyone, with no credential (login page, public sign-up and preference pages)
    PUBLIC = "public"
    #: any signed-in user or valid API token, whatever the role
    AUTHENTICATED = "authenticated"


#: What each permission lets a role do, in one sentence (docs/security.md is checked against it).
DESCRIPTIONS: dict[Permission, str] = {
    Permission.PERSONS_READ: "see persons, their cards, duplicates and merges",
    Permission.PERSONS_WRITE: "create and edit persons, import files, merge and unmerge, "
    "review duplicates, run the duplicate search, sync from other systems",
    Permission.PERSONS_DELETE: "delete a person (refused while they have history)",
    Permission.PERSONS_EXPORT: "export persons and their data",
    Permission.CAMPAIGNS_MANAGE: "manage sign-up forms",
    Permission.CAMPAIGNS_READ: "see campaigns, their waves, cells, progress and the calendar",
    Permission.CAMPAIGNS_WRITE: "create and edit campaigns (a running one gets a new version)",
    Permission.CAMPAIGNS_APPROVE: "approve a campaign (another marketer's, when the "
    "four-eyes setting is on)",
    Permission.CAMPAIGNS_SEND: "launch, pause, resume, cancel and send campaigns (mass operations)",
    Permission.ANALYTICS_RUN: "run scoring and read the reports",
    Permission.USERS_MANAGE: "manage users, roles, API tokens, sessions and webhooks",
    Permission.AUDIT_READ: "read the audit trail (who saw or changed whom)",
    Permission.JOBS_READ: "see background jobs and schedules",
    Permission.JOBS_MANAGE: "cancel and rerun jobs, manage recurring schedules",
    Permission.OUTBOX_READ: "read the emails caught by the demo's mail catcher",
    Permission.IMPORTS_ROLLBACK: "roll back a whole import batch (a mass delete)",
}


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MARKETER: frozenset(
        {
            P.PERSONS_READ,
            P.PERSONS_WRITE,
            P.PERSONS_EXPORT,
            P.CAMPAIGNS_MANAGE,
            P.CAMPAIGNS_READ,
            P.CAMPAIGNS_WRITE,
            P.CAMPAIGNS_APPROVE,
            P.CAMPAIGNS_SEND,
            P.ANALYTICS_RUN,
            P.JOBS_READ,
        }
    ),
    Role.ANALYST: frozenset(
        {P.PERSONS_READ, P.PERSONS_EXPORT, P.ANALYTICS_RUN, P.JOBS_READ, P.CAMPAIGNS_READ}
    ),
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


def permissions_table() -> str:
    """The roles table of ``docs/security.md`` (a test keeps the page equal to it): each
    permission, what it allows, and ✓ for each role that has it."""
    roles = list(Role)
    head = "| permission | allows | " + " | ".join(r.value for r in roles) + " |"
    rule = "|---|---|" + "---|" * len(roles)
    rows = [
        f"| `{p.value}` | {DESCRIPTIONS[p]} | "
        + " | ".join("✓" if p in ROLE_PERMISSIONS[r] else "" for r in roles)
        + " |"
        for p in Permission
    ]
    return "\n".join([head, rule, *rows])
