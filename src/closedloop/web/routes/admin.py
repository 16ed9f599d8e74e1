"""Administration pages (admins): users and roles, API tokens, the audit trail and recurring
job schedules. Every change is checked for CSRF (the page router) and written to the audit
trail."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import RedirectResponse, Response

from closedloop.db.types import MAX_INT, DbId
from closedloop.deps import DbSession
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.i18n import N_
from closedloop.jobs import schedules
from closedloop.jobs.service import handlers
from closedloop.users import audit_log, sessions
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.vocab import Role
from closedloop.web.rendering import flash, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import requires
from closedloop.web.sessions import state_of

router = page_router()
UsersAdmin = Annotated[User, requires(Permission.USERS_MANAGE)]
AuditReader = Annotated[User, requires(Permission.AUDIT_READ)]
JobsAdmin = Annotated[User, requires(Permission.JOBS_MANAGE)]
PAGE = 50
ROLES = [role.value for role in Role]


def _back(request: Request, url: str, message: str, kind: str = "success") -> Response:
    flash(request, message, kind)
    return RedirectResponse(url, status_code=303)


def _error(request: Request, url: str, exc: Exception) -> Response:
    """A refused change: back to the page with the reason (the service's sentence)."""
    detail = getattr(exc, "detail", str(exc))
    return _back(request, url, detail, "error")


@router.get("/admin", response_class=Response)
def admin_home(user: UsersAdmin) -> Response:
    """The administration starts with the users."""
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/users", response_class=Response)
def users_page(request: Request, db: DbSession, user: UsersAdmin) -> Response:
    """Every user with their role, state and last login; a form to add one."""
    people = users_service.list_users(db)
    live = {u.id: len(sessions.live_sessions(db, u.id)) for u in people}
    context = {"active": "admin", "tab": "users", "people": people, "live": live, "roles": ROLES}
    return render(request, "admin/users.html", context)


@router.post("/admin/users", response_class=Response)
async def create_user(request: Request, db: DbSession, user: UsersAdmin) -> Response:
    """Create a user with a role and a first password (shared with them out of band)."""
    form = await request.form()
    try:
        created = users_service.create_user(
            db,
            form_str(form, "username")[:64],
            form_str(form, "password"),
            Role(form_str(form, "role")),
            full_name=form_str(form, "full_name").strip()[:200] or None,
            email=form_str(form, "email").strip()[:320] or None,
        )
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        return _error(request, "/admin/users", exc)
    except ValueError:
        return _back(request, "/admin/users", N_("Choose a role."), "error")
    users_service.audit(db, user, "user_create", "user", created.id, channel="web",
                        detail={"username": created.username, "role": created.role})  # fmt: skip
    return _back(request, f"/admin/users/{created.id}", N_("The user was created."))


@router.get("/admin/users/{user_id:int}", response_class=Response)
def user_page(request: Request, user_id: int, db: DbSession, user: UsersAdmin) -> Response:
    """One user: role, state, password, sessions and API tokens."""
    person = users_service.get_user_by_id(db, user_id)
    context = {
        "active": "admin",
        "tab": "users",
        "person": person,
        "roles": ROLES,
        "live": sessions.live_sessions(db, person.id),
        "tokens": [t for t, _ in users_service.list_api_tokens(db, person.id)],
        "new_token": None,
        "now": datetime.now(UTC),
    }
    return render(request, "admin/user.html", context)


async def _change(request: Request, db: DbSession, admin: User, user_id: int) -> Response:
    """Apply the change the form names (``action``) to user ``user_id``."""
    form = await request.form()
    action = form_str(form, "action")
    person = users_service.get_user_by_id(db, user_id)
    url = f"/admin/users/{user_id}"
    detail: dict[str, Any] = {"username": person.username}
    try:
        if action == "role":
            role = Role(form_str(form, "role"))
            detail["from"], detail["to"] = person.role, role.value
            users_service.set_role(db, person.username, role)
            message = N_("The role was changed; the user's sessions were ended.")
        elif action in ("deactivate", "activate"):
            users_service.set_active(db, person.username, action == "activate")
            message = (
                N_("The user was deactivated and signed out.")
                if action == "deactivate"
                else N_("The user can log in again.")
            )
        elif action == "password":
            users_service.set_password(db, person.username, form_str(form, "password"))
            message = N_("The password was reset; the user's sessions were ended.")
        elif action == "sign_out":
            detail["sessions"] = users_service.sign_out_everywhere(db, person.username)
            message = N_("The user was signed out everywhere.")
        else:
            raise NotFound("Unknown change.")
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        return _error(request, url, exc)
    except ValueError:
        return _back(request, url, N_("Choose a role."), "error")
    users_service.audit(db, admin, f"user_{action}", "user", user_id, channel="web", detail=detail)
    if person.id == admin.id and action in ("role", "deactivate", "password", "sign_out"):
        state_of(request).end = True  # their own session was among those ended
    return _back(request, url, message)


@router.post("/admin/users/{user_id:int}", response_class=Response)
async def change_user(request: Request, user_id: int, db: DbSession, user: UsersAdmin) -> Response:
    """Change a user's role, deactivate or reactivate them, reset their password, or sign
    them out everywhere (the form's ``action``)."""
    return await _change(request, db, user, user_id)


@router.post("/admin/users/{user_id:int}/tokens", response_class=Response)
async def create_token(request: Request, user_id: int, db: DbSession, user: UsersAdmin) -> Response:
    """Create an API token for the user; it is shown on this answer only, never again."""
    form = await request.form()
    person = users_service.get_user_by_id(db, user_id)
    name = form_str(form, "name").strip()[:100] or "web"
    days = form_str(form, "days").strip()
    expires = None
    if days:
        if not days.isdigit() or not 1 <= int(days) <= 3650:
            return _back(request, f"/admin/users/{user_id}", N_("Give 1 to 3,650 days."), "error")
        expires = datetime.now(UTC) + timedelta(days=int(days))
    token = users_service.create_api_token(db, person.username, name, expires_at=expires)
    detail = {"name": name, "expires_at": expires and expires.isoformat()}
    users_service.audit(db, user, "token_create", "user", user_id, channel="web", detail=detail)
    context = {
        "active": "admin",
        "tab": "users",
        "person": person,
        "roles": ROLES,
        "live": sessions.live_sessions(db, person.id),
        "tokens": [t for t, _ in users_service.list_api_tokens(db, person.id)],
        "new_token": token,
        "now": datetime.now(UTC),
    }
    response = render(request, "admin/user.html", context, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/admin/tokens/{token_id:int}/revoke", response_class=Response)
async def revoke_token(
    request: Request, token_id: int, db: DbSession, user: UsersAdmin
) -> Response:
    """Revoke one API token (it answers 401 from now on)."""
    form = await request.form()
    token = users_service.revoke_api_token(db, token_id)
    users_service.audit(db, user, "token_revoke", "api_token", token_id, channel="web",
                        detail={"user_id": token.user_id, "name": token.name})  # fmt: skip
    back = form_str(form, "next")
    url = back if back in ("/admin/tokens", f"/admin/users/{token.user_id}") else "/admin/tokens"
    return _back(request, url, N_("The token was revoked."))


@router.get("/admin/tokens", response_class=Response)
def tokens_page(request: Request, db: DbSession, user: UsersAdmin) -> Response:
    """Every API token: whose, when made, last used, expiry, revoked."""
    context = {
        "active": "admin",
        "tab": "tokens",
        "tokens": users_service.list_api_tokens(db),
        "now": datetime.now(UTC),
    }
    return render(request, "admin/tokens.html", context)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/admin/audit", response_class=Response)
def audit_page(
    request: Request,
    db: DbSession,
    user: AuditReader,
    username: str = "",
    action: str = "",
    entity: str = "",
    entity_id: str = "",
    since: str = "",
    until: str = "",
    page: Annotated[DbId, Query()] = 1,
) -> Response:
    """The audit trail: who saw, exported or changed what, newest first; filter by user,
    action, record and dates (``until`` included)."""
    first, last = _day(since), _day(until)
    wanted = audit_log.AuditFilter(
        username=username.strip()[:64] or None,
        action=action.strip()[:32] or None,
        entity=entity.strip()[:32] or None,
        entity_id=entity_id.strip()[:64] or None,
        since=datetime.combine(first, time(), UTC) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(), UTC) if last else None,
    )
    page = max(1, min(page, MAX_INT // PAGE))
    found = audit_log.search(db, wanted, limit=PAGE, offset=(page - 1) * PAGE)
    query = {"username": username, "action": action, "entity": entity,
             "entity_id": entity_id, "since": since, "until": until}  # fmt: skip
    context = {
        "active": "admin",
        "tab": "audit",
        "found": found,
        "page": page,
        "pages": max(1, -(-found.total // PAGE)),
        "query": query,
        "bad_dates": bool(since and not first) or bool(until and not last),
        "usernames": [u.username for u in users_service.list_users(db)],
        **audit_log.choices(db),
    }
    return render(request, "admin/audit.html", context)


@router.get("/admin/schedules", response_class=Response)
def schedules_page(request: Request, db: DbSession, user: JobsAdmin) -> Response:
    """Recurring jobs (the same as ``closedloop jobs schedule``): add, pause, resume, remove."""
    context = {
        "active": "admin",
        "tab": "schedules",
        "schedules": schedules.list_schedules(db),
        "kinds": sorted(handlers()),
    }
    return render(request, "admin/schedules.html", context)


@router.post("/admin/schedules", response_class=Response)
async def change_schedules(request: Request, db: DbSession, user: JobsAdmin) -> Response:
    """Add a schedule, or pause, resume or remove one (the form's ``action``)."""
    form = await request.form()
    action, name = form_str(form, "action"), form_str(form, "name").strip()[:100]
    url = "/admin/schedules"
    try:
        if action == "add":
            kind = form_str(form, "kind")
            if kind not in handlers():
                raise ValidationFailed(f"Unknown job kind {kind!r}.")
            if not name:
                raise ValidationFailed("Give the schedule a name.")
            at = form_str(form, "at").strip() or None
            schedules.add_schedule(db, name, kind, every=form_str(form, "every"), at=at,
                                   created_by=user.username)  # fmt: skip
            message = N_("The schedule was added.")
        elif action in ("pause", "resume"):
            schedules.set_enabled(db, name, action == "resume")
            message = N_("The schedule was changed.")
        elif action == "remove":
            schedules.remove_schedule(db, name)
            message = N_("The schedule was removed.")
        else:
            raise NotFound("Unknown change.")
    except (ValidationFailed, Conflict, NotFound) as exc:
        db.rollback()
        return _error(request, url, exc)
    users_service.audit(db, user, f"schedule_{action}", "job_schedule", name, channel="web")
    return _back(request, url, message)
