"""Message templates: stored per code and version, one content per locale, compiled into a
:class:`MessageRenderer` that picks the recipient's locale and renders.

A template is checked when saved (syntax, unknown fields, unsafe names: the same analysis as
before a send), so a broken template never reaches a wave. A version is never changed once
saved: :func:`create_template` with an existing code makes the next version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import MessageContent, MessageTemplate
from closedloop.campaigns.render import (
    CompiledContent,
    Problem,
    Rendered,
    compile_content,
    invalid,
    names_used,
)
from closedloop.campaigns.template_names import Fields, Recommendations
from closedloop.errors import NotFound
from closedloop.settings import get_settings
from closedloop.vocab import Channel

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Locale = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z]{2}([-_][A-Za-z]{2})?$")
]


class ContentCreate(BaseModel):
    """One locale's text of a template."""

    model_config = ConfigDict(extra="forbid")
    locale: Locale
    subject: Annotated[str, StringConstraints(max_length=300)] | None = None
    body: Annotated[str, StringConstraints(min_length=1, max_length=500_000)]
    text_body: Annotated[str, StringConstraints(max_length=500_000)] | None = None


class TemplateCreate(BaseModel):
    """A new template (or the next version of ``code``)."""

    model_config = ConfigDict(extra="forbid")
    code: Code
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    channel: Channel
    default_locale: Locale = "en"
    contents: list[ContentCreate] = Field(min_length=1, max_length=30)


class TemplatePublic(BaseModel):
    """A stored template version."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    version: int
    name: str
    channel: str
    default_locale: str


def _language(locale: str | None) -> str:
    return (locale or "").replace("_", "-").split("-")[0].lower()


@dataclass
class MessageRenderer:
    """A template version ready to render for any recipient."""

    template_id: int
    channel: Channel
    default_locale: str
    contents: dict[str, CompiledContent]
    names: set[str] = field(default_factory=set)
    subject_required: bool = False

    def pick(self, language: str | None) -> CompiledContent:
        """The content for a recipient who speaks ``language`` (exact locale, then the same
        language, then the template's default locale)."""
        if language in self.contents:
            return self.contents[language]
        wanted = _language(language)
        for locale, content in self.contents.items():
            if _language(locale) == wanted:
                return content
        return self.contents.get(self.default_locale) or next(iter(self.contents.values()))

    def render(self, context: Mapping[str, Any], language: str | None) -> Rendered:
        """Render in the recipient's language; :class:`RenderFailed` for one recipient."""
        content = self.pick(language)
        return content.render({**context, "locale": content.locale})


def compile_template(
    channel: Channel, default_locale: str, contents: list[ContentCreate], template_id: int = 0
) -> tuple[MessageRenderer | None, list[Problem]]:
    """Compile every locale; the problems instead when there are any."""
    compiled: dict[str, CompiledContent] = {}
    problems: list[Problem] = []
    is_html = channel is Channel.EMAIL
    for c in contents:
        content, found = compile_content(c.locale, c.subject, c.body, c.text_body, is_html=is_html)
        problems += found
        if content is not None:
            compiled[c.locale] = content
    if len({c.locale for c in contents}) != len(contents):
        problems.append(Problem("contents", "each locale may appear once"))
    if problems:
        return None, problems
    names = names_used(s for c in contents for s in (c.subject, c.body, c.text_body))
    renderer = MessageRenderer(template_id, channel, default_locale, compiled, names)
    return renderer, []


def create_template(
    session: Session, data: TemplateCreate, *, created_by: str | None = None
) -> MessageTemplate:
    """Store a template (the next version of its code); :class:`ValidationFailed` lists every
    problem of every locale."""
    _renderer, problems = compile_template(data.channel, data.default_locale, data.contents)
    if problems:
        raise invalid(problems)
    latest = session.scalar(
        select(func.max(MessageTemplate.version)).where(MessageTemplate.code == data.code)
    )
    template = MessageTemplate(
        code=data.code,
        version=(latest or 0) + 1,
        name=data.name,
        channel=data.channel.value,
        default_locale=data.default_locale,
        created_by=created_by,
    )
    session.add(template)
    session.flush()
    for c in data.contents:
        session.add(MessageContent(template_id=template.id, **c.model_dump()))
    session.flush()
    return template


def get_template(session: Session, template_id: int) -> MessageTemplate:
    """The template version ``template_id``; NotFound otherwise."""
    template = session.get(MessageTemplate, template_id)
    if template is None:
        raise NotFound(f"Message template {template_id} does not exist.")
    return template


def template_contents(session: Session, template_id: int) -> list[ContentCreate]:
    """The stored contents of a template version."""
    rows = session.scalars(
        select(MessageContent)
        .where(MessageContent.template_id == template_id)
        .order_by(MessageContent.locale)
    )
    return [
        ContentCreate(locale=r.locale, subject=r.subject, body=r.body, text_body=r.text_body)
        for r in rows
    ]


def load_renderer(
    session: Session, template_id: int
) -> tuple[MessageRenderer | None, list[Problem]]:
    """The renderer of a stored template, or the problems that keep it from compiling."""
    template = get_template(session, template_id)
    contents = template_contents(session, template_id)
    if not contents:
        return None, [Problem("contents", "the template has no content")]
    return compile_template(
        Channel(template.channel), template.default_locale, contents, template.id
    )


def base_context(
    person: Mapping[str, Any],
    *,
    offer: Mapping[str, Any] | None,
    campaign: Mapping[str, Any],
    wave: Mapping[str, Any],
    recommendations: list[dict[str, Any]] | None = None,
    links: tuple[str, str] | None = None,
    today: date | None = None,
    event: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The names a template sees (see :mod:`closedloop.campaigns.render`)."""
    context: dict[str, Any] = {
        "person": Fields("person", person),
        "offer": Fields("offer", offer or {}),
        "campaign": Fields("campaign", campaign),
        "wave": Fields("wave", wave),
        "event": Fields("event", event or {}),
        "recommendations": Recommendations(recommendations or []),
        "today": today or date.today(),
    }
    if links is not None:
        context["preferences_url"], context["unsubscribe_url"] = links
    # A preview's survey links lead nowhere; a sent email's are signed for its message.
    context["survey_url"] = _preview_survey_url
    context["rsvp_url"] = _preview_rsvp_url
    return context


def _preview_rsvp_url(answer: str = "") -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/e/r/preview?answer={answer}"


def _preview_survey_url(code: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/s/preview-{code}"
