"""Jinja2 environments (one per language, autoescaped) and the page renderer.

Every text goes through gettext (``{{ _("...") }}`` in templates); dates, numbers and money go
through the Babel filters bound to the page's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, cast

import phonenumbers
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from closedloop import i18n
from closedloop.settings import get_settings
from closedloop.users.permissions import Permission, allowed
from closedloop.web.labels import LABELS
from closedloop.web.security import SESSION_FLASH, SESSION_LOCALE, LazyCsrfToken, Viewer

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def request_locale(request: Request) -> str:
    """The page language: chosen in the session, else the browser's, else the default."""
    chosen = i18n.normalize_locale(request.session.get(SESSION_LOCALE))
    if chosen:
        return chosen
    return i18n.negotiate(request.headers.get("accept-language"), get_settings().default_locale)


def gettext_for(request: Request) -> Callable[[str], str]:
    """``gettext`` in the page language, for messages built in Python."""
    return cast(Callable[[str], str], i18n.get_translations(request_locale(request)).gettext)


def flash(request: Request, message: str, kind: str = "success") -> None:
    """Show ``message`` (a message id) on the next page rendered for this session."""
    pending = list(request.session.get(SESSION_FLASH) or [])
    pending.append([kind, message])
    request.session[SESSION_FLASH] = pending


def _pick_label(labels: Mapping[str, str] | None, locale: str, fallback: str = "") -> str:
    if not labels:
        return fallback
    return labels.get(locale) or labels.get("en") or next(iter(labels.values()), fallback)


def _label(gettext: Callable[[str], str], code: object) -> str:
    if code is None or code == "":
        return ""
    text = str(code)
    return gettext(LABELS[text]) if text in LABELS else text


def format_phone(e164: str | None) -> str:
    """A stored E.164 number in international form (+33 6 12 34 56 78)."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def _attr_value(gettext: Callable[[str], str], locale: str, value: Any) -> str:
    if isinstance(value, dict):
        return _pick_label(value, locale)
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, date | datetime):
        return i18n.format_date(value, locale)
    if isinstance(value, int | float | Decimal):
        return i18n.format_decimal(value, locale)
    return str(value)


def _count(locale: str, total: int, cap: int | None = None) -> str:
    text = i18n.format_decimal(total, locale)
    return text + "+" if cap is not None and total >= cap else text


def plotly_url() -> str:
    """The one address of Plotly's bundle (named after the installed version, long-cached)."""
    from importlib.metadata import version

    return f"/vendor/plotly-{version('plotly')}.min.js"


@lru_cache(maxsize=len(i18n.SUPPORTED_LOCALES) + 1)
def environment(locale: str) -> Environment:
    """The template environment of ``locale``: its translations and formatting filters
    (times in the zone of ``CLOSEDLOOP_TIMEZONE``)."""
    zone = i18n.time_zone(get_settings().timezone)
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    translations = i18n.get_translations(locale)
    cast(Any, env).install_gettext_translations(translations, newstyle=True)
    gettext = cast(Callable[[str], str], translations.gettext)
    env.filters.update(
        date=lambda v, fmt="medium": i18n.format_date(v, locale, fmt),
        # One way of writing a time on every page (a template asking for "short" gets it too).
        datetime=lambda v, fmt="medium": i18n.format_datetime(v, locale, "medium", zone),
        decimal=lambda v, fmt=None: i18n.format_decimal(v, locale, fmt),
        money=lambda v, currency: i18n.format_currency(v, currency, locale),
        percent=lambda v: i18n.format_percent(v, locale),
        count=partial(_count, locale),
        label=partial(_label, gettext),
        pick_label=lambda labels, fallback="": _pick_label(labels, locale, fallback),
        attr_value=partial(_attr_value, gettext, locale),
        phone=format_phone,
        # A job's stored progress or failure message, in the page's language.
        said=lambda text: i18n.translate_stored(text, locale),
    )
    env.globals.update(locale=locale, locales=i18n.LOCALE_NAMES, plotly_url=plotly_url())
    return env


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """Render ``template`` in the page language with the layout's context."""
    locale = request_locale(request)
    user: Viewer | None = getattr(request.state, "user", None)

    def can(permission: str) -> bool:
        return user is not None and allowed(user.role, Permission(permission))

    flashes = request.session.pop(SESSION_FLASH, None) or []
    ctx: dict[str, Any] = {
        "request": request,
        "user": user,
        "csrf_token": LazyCsrfToken(request),
        "can": can,
        "flashes": flashes,
        "current_path": request.url.path + ("?" + request.url.query if request.url.query else ""),
        "active": None,
    }
    ctx.update(context or {})
    html = environment(locale).get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status)
