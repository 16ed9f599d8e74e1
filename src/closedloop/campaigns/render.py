"""Personalised messages: templates in a sandboxed Jinja2 environment.

A template is written by a marketer and runs on every recipient's data, so it runs in
:class:`jinja2.sandbox.ImmutableSandboxedEnvironment`: no attribute starting with ``_``, no
method that changes a value, so ``{{ ''.__class__.__mro__ }}`` and its cousins fail with
a clear error. Values are *strict*: a field that is empty for a recipient is an error unless
the template gives a fallback (``{{ person.given_name | default("reader") }}``), so no message
goes out saying "Dear ,". The analysis (:mod:`closedloop.campaigns.checks`) finds those
recipients before sending.

What a template may use (declared once in :mod:`closedloop.campaigns.template_names`; the
analysis and the docs derive from it):

- ``person.<field>`` (``PERSON_FIELDS``), ``offer.<field>`` (``OFFER_FIELDS``),
  ``campaign.code|name``, ``wave.name``;
- ``recommendations``: a list of products (dicts with ``code``, ``name``, ``price``,
  ``currency``…) from the ``message_recommendations`` hook (targeting answers it: the
  person's next best products, never one already bought); ``recommendations(3)`` is its
  first three (at most ``MAX_RECOMMENDATIONS``);
- ``unsubscribe_url``, ``preferences_url`` (signed, per person), ``today``, ``locale``;
- ``survey_url("CODE")``: the signed link to a survey's page for this message (emails);
- ``event.<field>`` (``EVENT_FIELDS``) and ``rsvp_url("yes"|"no"|"maybe")``: the event
  the campaign invites to and the signed link to this invitation's answer page (messages of
  a campaign with an event, :mod:`closedloop.events`; such an email carries the ``.ics``);
- filters ``money`` (``{{ offer.price | money }}``, in the recipient's locale) and
  ``date`` (``{{ offer.valid_to | date("long") }}``) besides Jinja's own.

Every ``http(s)`` link of an email becomes a tracked link when it is sent
(:func:`closedloop.campaigns.link_tracking.with_tracking`; ``data-notrack`` on the ``<a>``
keeps one as is). This module is the only one of the domains that imports Jinja2
(docs/decisions/0017-sandboxed-templates.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

import css_inline
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes, pass_context
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from closedloop.campaigns.plaintext import html_to_text
from closedloop.campaigns.template_names import NAMES, OBJECTS, Fields
from closedloop.errors import ValidationFailed


class Missing(StrictUndefined):
    """An empty field: rendering it without a fallback fails and names it."""

    @property
    def _undefined_message(self) -> str:
        obj = self._undefined_obj
        if isinstance(obj, Fields):
            return f"{obj.label}.{self._undefined_name} is empty for this recipient"
        return super()._undefined_message


class RenderFailed(Exception):
    """A template could not be rendered for one recipient: ``field`` (when a field was
    empty) and the reason in words."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.field = reason, field


@lru_cache(maxsize=4096)
def _format_money(amount: Decimal, currency: str, locale: str) -> str:
    return str(format_currency(amount, currency, locale=locale))


@pass_context
def _money(ctx: Context, value: Any, currency: str | None = None) -> str:
    if isinstance(value, Missing):
        str(value)  # raises, naming the field
    amount = Decimal(str(value))
    cur = currency or ctx.get("campaign", {}).get("currency") or "EUR"
    return _format_money(amount, cur, ctx.get("locale") or "en")


@pass_context
def _date(ctx: Context, value: Any, fmt: str = "medium") -> str:
    if isinstance(value, Missing):
        str(value)
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return str(format_date(day, format=fmt, locale=ctx.get("locale") or "en"))


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=Missing, autoescape=autoescape, keep_trailing_newline=True
    )
    env.filters["money"] = _money
    env.filters["date"] = _date
    return env


HTML_ENV = _environment(autoescape=True)
TEXT_ENV = _environment(autoescape=False)
_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Problem:
    """Something wrong in a template, found without rendering it."""

    part: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.part}, line {self.line}" if self.line else self.part
        return f"{where}: {self.message}"


def _static_problems(part: str, tree: nodes.Template) -> list[Problem]:
    found: list[Problem] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        attr = node.attr if isinstance(node, nodes.Getattr) else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            attr = str(node.arg.value)
        if attr is None:
            continue
        owner = getattr(node, "node", None)
        if attr.startswith("_"):
            found.append(Problem(part, f"'{attr}' may not be used (unsafe)", node.lineno))
        elif isinstance(owner, nodes.Name) and owner.name in OBJECTS:
            known = OBJECTS[owner.name]
            if attr not in known:
                message = f"unknown field {owner.name}.{attr} (known: {', '.join(known)})"
                found.append(Problem(part, message, node.lineno))
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for name in sorted({n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}):
        if name not in NAMES and name not in assigned:
            found.append(
                Problem(part, f"unknown name '{name}' (known: {', '.join(sorted(NAMES))})")
            )
    return found


@dataclass(frozen=True)
class Rendered:
    """One recipient's message: subject (email), body (HTML for email, else text), and the
    plain-text part of an email."""

    subject: str | None
    body: str
    text: str | None = None


@dataclass
class CompiledContent:
    """The templates of one locale, compiled."""

    locale: str
    subject: Any | None
    body: Any
    text: Any | None
    is_html: bool

    def render(self, context: Mapping[str, Any]) -> Rendered:
        """Render for one recipient; :class:`RenderFailed` names an empty field or an
        unsafe operation."""
        try:
            subject = " ".join(self.subject.render(context).split()) if self.subject else None
            body = self.body.render(context)
            text = self.text.render(context) if self.text is not None else None
        except UndefinedError as exc:
            match = re.match(r"(\w+\.\w+) is empty", str(exc))
            raise RenderFailed(str(exc), match.group(1) if match else None) from exc
        except SecurityError as exc:
            raise RenderFailed(f"unsafe template: {exc}") from exc
        except (TemplateError, ValueError, TypeError, ArithmeticError) as exc:
            raise RenderFailed(f"{type(exc).__name__}: {exc}") from exc
        if self.is_html:
            body = _INLINER.inline(body)
            text = re.sub(r"\n{3,}", "\n\n", text or "")
        return Rendered(subject, body, text)


def compile_content(
    locale: str, subject: str | None, body: str, text_body: str | None, *, is_html: bool
) -> tuple[CompiledContent | None, list[Problem]]:
    """Compile one locale's templates; the problems found (syntax, unknown or unsafe names)
    instead of the compiled content when there are any."""
    problems: list[Problem] = []
    parts: dict[str, Any] = {}
    text_source = (text_body or html_to_text(body)) if is_html else None
    sources = {"subject": subject, "body": body, "text": text_source}
    for part, source in sources.items():
        if source is None:
            continue
        env = HTML_ENV if is_html and part == "body" else TEXT_ENV
        if part == "text" and not text_body and "body" not in parts:
            continue  # derived from a body that failed: its problems are the body's
        try:
            tree = env.parse(source)
        except TemplateSyntaxError as exc:
            problems.append(Problem(f"{locale} {part}", exc.message or str(exc), exc.lineno))
            continue
        found = _static_problems(f"{locale} {part}", tree)
        if part == "text" and not text_body:
            found = []  # the same names as the body's, already reported
        problems += found
        parts[part] = env.from_string(source)
    if problems:
        return None, problems
    compiled = CompiledContent(
        locale, parts.get("subject"), parts["body"], parts.get("text"), is_html
    )
    return compiled, []


def names_used(sources: Iterable[str | None]) -> set[str]:
    """The top-level names the sources read (to load recommendations only when used)."""
    used: set[str] = set()
    for source in sources:
        if source:
            try:
                used |= {n.name for n in TEXT_ENV.parse(source).find_all(nodes.Name)}
            except TemplateSyntaxError:
                continue
    return used


def invalid(problems: list[Problem]) -> ValidationFailed:
    """The error a template with ``problems`` is refused with (each problem a field error)."""
    return ValidationFailed(
        "The message template is not valid.",
        errors=[
            {"field": p.part, "message": f"line {p.line}: {p.message}" if p.line else p.message}
            for p in problems
        ],
    )
