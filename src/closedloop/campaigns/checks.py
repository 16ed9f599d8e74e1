"""Control before sending: the analysis of a wave, as typed findings with counts.

:func:`analyse_wave` goes through the wave's queued rows as the sender would (the same
:func:`closedloop.campaigns.compose.compose`, without sending) and reports:

errors (the wave should not go out as it is):
  a template that does not compile (syntax error, unknown field, unsafe name); an email
  without subject or without unsubscribe link; a field empty for some recipients with no
  fallback (with their count); an SMS over its segment budget (with the count); an email
  larger than the server accepts; demo persons without a test sink;
warnings:
  recipients who will be skipped or suppressed now (no address, consent withdrawn,
  suppression list), an SMS forced into UCS-2 by a few characters, an email over 102 KB
  (Gmail clips it), letters whose address does not fit the window, no seed address.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.campaigns import ledger
from closedloop.campaigns.compose import Ready, WavePlan, compose, load_plan
from closedloop.campaigns.models import SeedAddress
from closedloop.campaigns.send_prepare import demo_guard
from closedloop.channels import ChannelSettings, get_channel_settings, sms_length
from closedloop.channels.letter import MAX_LINES
from closedloop.channels.postal_format import PostalAddress, address_block
from closedloop.errors import Refused, ValidationFailed
from closedloop.vocab import Channel
from closedloop.vocab import CommunicationStatus as St

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # rows waiting for a retry are analysed too
GMAIL_CLIP_BYTES = 102 * 1024
MAX_EMAIL_BYTES = 10 * 1024 * 1024
_BATCH = 1000


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One thing the analysis found: how grave, a stable code, the sentence, and how many
    recipients it concerns (when it concerns recipients)."""

    severity: Severity
    code: str
    message: str
    count: int | None = None
    cell: str | None = None


@dataclass
class Analysis:
    """The findings of one wave, and what the sender would do with its queued rows."""

    wave_id: int
    queued: int = 0
    would_send: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No error: the wave may go out."""
        return not any(f.severity is Severity.ERROR for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "wave_id": self.wave_id,
            "ok": self.ok,
            "queued": self.queued,
            "would_send": self.would_send,
            "findings": [{**f.__dict__, "severity": f.severity.value} for f in self.findings],
        }


def static_findings(plan: WavePlan) -> list[Finding]:
    """Findings that need no recipient: a missing subject or unsubscribe link per cell."""
    found: list[Finding] = []
    for cell in plan.cells.values():
        if cell.channel is not Channel.EMAIL:
            continue
        for locale, content in cell.renderer.contents.items():
            if content.subject is None:
                found.append(
                    Finding(
                        Severity.ERROR,
                        "missing_subject",
                        f"The {locale} email has no subject.",
                        cell=cell.code,
                    )
                )
        if "unsubscribe_url" not in cell.renderer.names:
            found.append(
                Finding(
                    Severity.ERROR,
                    "no_unsubscribe",
                    'The email has no unsubscribe link: add <a href="{{ unsubscribe_url }}">'
                    "Unsubscribe</a> (the List-Unsubscribe header alone is not enough).",
                    cell=cell.code,
                )
            )
    return found


def no_links(_person_id: int) -> tuple[str, str]:
    """Placeholder preference and unsubscribe links for a render that sends nothing."""
    return "https://example.invalid/preferences", "https://example.invalid/unsubscribe"


def analyse_wave(
    session: Session,
    wave_id: int,
    *,
    settings: ChannelSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Analysis:
    """Analyse every queued row of ``wave_id`` (reads only; nothing is sent or changed)."""
    settings = settings or get_channel_settings()
    analysis = Analysis(wave_id)
    try:
        plan = load_plan(session, wave_id)
    except ValidationFailed as exc:
        analysis.findings += [
            Finding(Severity.ERROR, "template", f"{e['field']}: {e['message']}") for e in exc.errors
        ]
        return analysis
    analysis.findings += static_findings(plan)
    try:
        demo_guard(session, wave_id, settings)
    except Refused as exc:
        analysis.findings.append(Finding(Severity.ERROR, "demo_base", exc.detail))
    total = ledger.counts(session, wave_id).get(St.QUEUED.value, 0)
    analysis.queued = total
    reasons: Counter[tuple[St, str]] = Counter()
    sizes: Counter[str] = Counter()
    after, seen = 0, 0
    while True:
        rows = ledger.due_rows(session, wave_id, after_id=after, limit=_BATCH, now=FAR_FUTURE)
        if not rows:
            break
        ready, settled = compose(session, plan, rows, links=no_links)
        reasons.update((s.status, s.detail) for s in settled)
        for r in ready:
            sizes.update(size_problems(r, settings))
        analysis.would_send += len(ready)
        after, seen = rows[-1].id, seen + len(rows)
        if progress is not None:
            progress(seen, total)
    analysis.findings += findings_from_reasons(reasons, total)
    analysis.findings += findings_from_sizes(sizes, settings)
    if total == 0:
        analysis.findings.append(Finding(Severity.WARNING, "empty", "Nothing is queued."))
    analysis.findings += _seeds(session, plan)
    return analysis


def size_problems(r: Ready, settings: ChannelSettings) -> list[str]:
    """Size problems of one message, as keys counted across recipients."""
    keys: list[str] = []
    if r.channel is Channel.EMAIL:
        size = len(r.rendered.body.encode()) + len((r.rendered.text or "").encode())
        if size > MAX_EMAIL_BYTES:
            keys.append("email_too_large")
        elif size > GMAIL_CLIP_BYTES:
            keys.append("email_clipped")
        if not r.rendered.subject:
            keys.append("empty_subject")
    elif r.channel is Channel.SMS:
        length = sms_length(r.rendered.body)
        if length.segments > settings.sms_max_segments:
            keys.append(f"sms_over_budget:{length.segments}")
        if length.encoding == "UCS-2":
            odd = sorted({c for c in r.rendered.body if sms_length(c).encoding != "GSM-7"})
            keys.append("sms_ucs2:" + "".join(odd[:10]))
    elif r.channel is Channel.LETTER and r.postal is not None:
        p = r.postal
        lines = address_block(
            PostalAddress(
                r.name or "", p.line1, p.line2, p.postal_code, p.locality, p.region, p.country
            ),
            from_country=settings.letter_country or "FR",
        )
        if not 3 <= len(lines) <= MAX_LINES + 1:
            keys.append("letter_address_lines")
    return keys


def findings_from_reasons(reasons: Counter[tuple[St, str]], total: int) -> list[Finding]:
    """Findings from the statuses and reasons of ``total`` rendered recipients, counted."""
    found: list[Finding] = []
    for (status, detail), n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        if status is St.FAILED and " is empty for this recipient" in detail:
            name = detail.split(" is empty")[0]
            found.append(
                Finding(
                    Severity.ERROR,
                    "missing_field",
                    f"{name} is empty for {n:,} of {total:,} recipients and the template gives no "
                    f'fallback: write {{{{ {name} | default("…") }}}}, or leave them out.',
                    n,
                )
            )
        elif status is St.FAILED:
            found.append(Finding(Severity.ERROR, "render", f"{n:,} recipients: {detail}", n))
        else:
            found.append(
                Finding(
                    Severity.WARNING,
                    status.value,
                    f"{n:,} recipients will be {status.value}: {detail}",
                    n,
                )
            )
    return found


def findings_from_sizes(sizes: Counter[str], settings: ChannelSettings) -> list[Finding]:
    """Findings from the size problems (:func:`size_problems`) counted across recipients."""
    found: list[Finding] = []
    for key, n in sorted(sizes.items()):
        code, _, extra = key.partition(":")
        if code == "email_too_large":
            found.append(Finding(Severity.ERROR, code, f"{n:,} emails are over 10 MB.", n))
        elif code == "email_clipped":
            found.append(
                Finding(
                    Severity.WARNING,
                    code,
                    f"{n:,} emails are over 102 KB: Gmail "
                    "shows them clipped (and hides the unsubscribe link).",
                    n,
                )
            )
        elif code == "empty_subject":
            found.append(Finding(Severity.ERROR, code, f"{n:,} emails render an empty subject.", n))
        elif code == "sms_over_budget":
            found.append(
                Finding(
                    Severity.ERROR,
                    code,
                    f"{n:,} SMS take {extra} segments; the budget is {settings.sms_max_segments}.",
                    n,
                )
            )
        elif code == "sms_ucs2":
            found.append(
                Finding(
                    Severity.WARNING,
                    code,
                    f"{n:,} SMS are sent as UCS-2 (70 "
                    f"characters a segment, not 160) because of: {extra}",
                    n,
                )
            )
        elif code == "letter_address_lines":
            found.append(
                Finding(
                    Severity.WARNING,
                    code,
                    f"{n:,} letters have an address that does not fit the envelope window.",
                    n,
                )
            )
    return found


def _seeds(session: Session, plan: WavePlan) -> list[Finding]:
    channels = sorted(c.value for c in plan.channels)
    have = dict(
        session.execute(
            select(SeedAddress.channel, func.count())
            .where(SeedAddress.active.is_(True), SeedAddress.channel.in_(channels))
            .group_by(SeedAddress.channel)
        ).all()
    )
    return [
        Finding(
            Severity.WARNING,
            "no_seeds",
            f"No {c} seed address: add one "
            f"(closedloop channels seeds add) to receive a copy of every wave.",
        )
        for c in channels
        if not have.get(c)
    ]
