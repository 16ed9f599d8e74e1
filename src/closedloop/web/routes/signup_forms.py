"""Sign-up forms in the admin pages: list, create, edit, with the public link and the HTML
snippet that embeds a form in the company web site."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from closedloop.consent import forms as forms_service
from closedloop.consent.messages import public_url
from closedloop.consent.models import SignupForm
from closedloop.contacts.normalize import search_key
from closedloop.deps import DbSession
from closedloop.errors import Conflict, ValidationFailed
from closedloop.i18n import N_
from closedloop.settings import get_settings
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.vocab import Channel, Purpose
from closedloop.web.form_errors import URL, field_errors
from closedloop.web.rendering import flash, gettext_for, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import requires

router = page_router()
Manager = Annotated[User, requires(Permission.CAMPAIGNS_MANAGE)]
FormId = Annotated[int, Path(ge=1, le=2**63 - 1)]
FIELDS = (
    "slug",
    "title",
    "intro",
    "proof_text",
    "proof_version",
    "confirm_subject",
    "confirm_body",
    "redirect_url",
)


BAD_TOPIC_LINE = N_("Line %(line)s: write a purpose, a colon and a label.")
#: What each field's own check (a pydantic ``value_error``) asks for.
VALUE_ERRORS = {
    "topics": N_("Give each topic its own label."),
    "confirm_subject": N_("Use only the placeholders listed below the email text."),
    "confirm_body": N_("Use only the placeholders listed; the text must contain {link}."),
    "redirect_url": URL,
}


def site_url(request: Request, path: str) -> str:
    """The public address of ``path``: ``CLOSEDLOOP_PUBLIC_BASE_URL`` when it is set, else
    the address this page was asked at (its host and port), so a demo on another port shows
    links that work."""
    if "public_base_url" in get_settings().model_fields_set:
        return public_url(path)
    return str(request.base_url).rstrip("/") + path


def embed_snippet(form: SignupForm, src: str | None = None) -> str:
    """The HTML a web site pastes to show the form in an iframe (``src``: the form's public
    address; by default from the settings)."""
    src = src or public_url(f"/signup/{form.slug}")
    title = form.title.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return (
        f'<iframe src="{src}" title="{title}" width="100%" height="760" '
        'style="border:0;max-width:40rem" loading="lazy"></iframe>'
    )


def topics_text(topics: list[dict[str, str]]) -> str:
    """Topics as the edit box shows them: one ``purpose: label`` per line."""
    return "\n".join(f"{t['purpose']}: {t['label']}" for t in topics)


def parse_topics(text: str) -> tuple[list[dict[str, str]], list[int]]:
    """``purpose: label`` lines as topics (the code is made from the label), and the numbers
    of the lines that are not."""
    topics: list[dict[str, str]] = []
    bad_lines: list[int] = []
    purposes = {p.value for p in Purpose}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        purpose, sep, label = line.partition(":")
        if not sep or purpose.strip() not in purposes or not label.strip():
            bad_lines.append(number)
            continue
        code = re.sub(r"[^a-z0-9]+", "-", search_key(label) or "").strip("-")[:64] or purpose
        topics.append({"code": code, "label": label.strip(), "purpose": purpose.strip()})
    return topics, bad_lines


def _values(form: SignupForm | None) -> dict[str, Any]:
    if form is None:
        return {
            **{name: "" for name in FIELDS},
            "confirm_subject": forms_service.DEFAULT_SUBJECT,
            "confirm_body": forms_service.DEFAULT_BODY,
            "proof_version": "v1",
            "topics": "newsletter: Newsletter",
            "channels": ["email"],
            "is_active": True,
        }
    values: dict[str, Any] = {name: getattr(form, name) or "" for name in FIELDS}
    values.update(topics=topics_text(form.topics), channels=form.channels, is_active=form.is_active)
    return values


def _submitted(data: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: form_str(data, name) for name in FIELDS}
    values["topics"] = form_str(data, "topics")
    values["channels"] = [v for v in data.getlist("channels") if isinstance(v, str)]
    values["is_active"] = form_str(data, "is_active") == "on"
    return values


def _edit_page(
    request: Request,
    form: SignupForm | None,
    values: dict[str, Any],
    errors: dict[str, list[str]],
    status: int = 200,
) -> Response:
    context = {
        "active": "signup-forms",
        "form": form,
        "values": values,
        "errors": errors,
        "channels": [c.value for c in Channel],
        "purposes": [p.value for p in Purpose],
        "placeholders": ", ".join("{" + p + "}" for p in forms_service.PLACEHOLDERS),
        "snippet": embed_snippet(form, site_url(request, f"/signup/{form.slug}")) if form else None,
        "public_link": site_url(request, f"/signup/{form.slug}") if form else None,
    }
    return render(request, "signup/admin_edit.html", context, status=status)


@router.get("/signup-forms", response_class=Response)
def forms_list(request: Request, db: DbSession, user: Manager) -> Response:
    """Every sign-up form with its public link."""
    rows = [
        {"form": f, "link": site_url(request, f"/signup/{f.slug}")}
        for f in forms_service.list_forms(db)
    ]
    return render(request, "signup/admin_list.html", {"active": "signup-forms", "rows": rows})


@router.get("/signup-forms/new", response_class=Response)
def new_form(request: Request, user: Manager) -> Response:
    """An empty form definition with sensible defaults."""
    return _edit_page(request, None, _values(None), {})


def _save(
    request: Request, db: DbSession, user: User, form: SignupForm | None, data: FormData
) -> Response:
    gettext = gettext_for(request)
    values = _submitted(data)
    payload = {k: v for k, v in values.items() if k != "slug" or form is None}
    payload["topics"], bad_lines = parse_topics(values["topics"])
    payload["intro"] = payload["intro"] or None
    payload["redirect_url"] = payload["redirect_url"] or None
    errors: dict[str, list[str]] = {}
    if bad_lines:
        errors["topics"] = [gettext(BAD_TOPIC_LINE) % {"line": n} for n in bad_lines]
    try:
        checked = forms_service.validate_form(payload, create=form is None)
    except ValidationFailed as exc:
        for name, messages in field_errors(exc, gettext, value_errors=VALUE_ERRORS).items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        return _edit_page(request, form, values, errors, status=422)
    try:
        if form is None:
            assert isinstance(checked, forms_service.SignupFormCreate)
            saved = forms_service.create_form(db, checked, created_by=user.username)
        else:
            saved = forms_service.update_form(db, form.id, checked)
    except Conflict:  # the slug is taken
        errors = {"slug": [gettext(N_("A sign-up form with this name already exists."))]}
        return _edit_page(request, form, values, errors, status=422)
    users_service.audit(db, user, "save", "signup_form", saved.id, channel="web")
    flash(request, N_("The sign-up form is saved."))
    return RedirectResponse(f"/signup-forms/{saved.id}", status_code=303)


@router.post("/signup-forms/new", response_class=Response)
async def create(request: Request, db: DbSession, user: Manager) -> Response:
    """Create a sign-up form."""
    return _save(request, db, user, None, await request.form())


@router.get("/signup-forms/{form_id}", response_class=Response)
def edit_form(request: Request, db: DbSession, user: Manager, form_id: FormId) -> Response:
    """Edit a form; shows its public link and embed snippet."""
    form = forms_service.get_form(db, form_id)
    return _edit_page(request, form, _values(form), {})


@router.post("/signup-forms/{form_id}", response_class=Response)
async def update(request: Request, db: DbSession, user: Manager, form_id: FormId) -> Response:
    """Save the changes of a form (its slug stays)."""
    form = forms_service.get_form(db, form_id)
    return _save(request, db, user, form, await request.form())
