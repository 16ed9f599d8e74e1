"""The outbox (admins only): the emails caught by the demo's mail catcher, each readable as its
recipient would read it (links clickable), and the emails that could not be sent, with why."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from closedloop.channels import outbox
from closedloop.deps import DbSession
from closedloop.i18n import N_
from closedloop.settings import get_settings
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.web.rendering import flash, render
from closedloop.web.routes import page_router
from closedloop.web.security import requires

router = page_router()
Admin = Annotated[User, requires(Permission.OUTBOX_READ)]
#: The HTML part is shown in a sandboxed frame, under a policy of its own: no script, nothing
#: fetched from anywhere, links open in a new tab (``<base target="_blank">``).
HTML_PART_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'; sandbox allow-popups "
    "allow-popups-to-escape-sandbox"
)


@router.get("/outbox", response_class=Response)
def outbox_page(request: Request, db: DbSession, user: Admin) -> Response:
    """The latest caught emails, and the emails that failed or wait to be sent again."""
    settings = get_settings()
    context = {
        "active": "outbox",
        "messages": outbox.list_caught(db),
        "total": outbox.count_caught(db),
        "failed": outbox.failed_sends(db),
        "smtp": f"{settings.smtp_host}:{settings.smtp_port}",
    }
    return render(request, "outbox/index.html", context)


@router.get("/outbox/{email_id:int}", response_class=Response)
def message_page(request: Request, email_id: int, db: DbSession, user: Admin) -> Response:
    """One caught email: its headers, its text with clickable links, its HTML version."""
    message = outbox.read(db, email_id)
    users_service.audit(db, user, "view", "caught_email", email_id, channel="web")
    return render(request, "outbox/message.html", {"active": "outbox", "message": message})


@router.get("/outbox/{email_id:int}/html", response_class=Response)
def message_html(email_id: int, db: DbSession, user: Admin) -> Response:
    """The HTML version of a caught email, for the sandboxed frame of its page."""
    message = outbox.read(db, email_id)
    html = '<base target="_blank">' + (message.html or "")
    headers = {
        "Content-Security-Policy": HTML_PART_POLICY,
        "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "no-store",
    }
    return HTMLResponse(html, headers=headers)


@router.post("/outbox/clear", response_class=Response)
def clear_outbox(request: Request, db: DbSession, user: Admin) -> Response:
    """Delete every caught email."""
    removed = outbox.clear(db)
    detail = {"count": removed}
    users_service.audit(db, user, "delete", "caught_email", detail=detail, channel="web")
    flash(request, N_("The outbox was emptied."))
    return RedirectResponse("/outbox", status_code=303)
