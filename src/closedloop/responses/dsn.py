"""Read inbound mail: delivery status notifications (bounces), auto-replies and replies.

No parsing library is installed (``flufl.bounce`` is not in the lock file), so this reads
what the MTAs send with the standard ``email`` package:

- RFC 3464 ``multipart/report; report-type=delivery-status`` (Postfix, Exchange, Gmail,
  recent Exim): one block per recipient with ``Final-Recipient``, ``Action``, ``Status`` and
  ``Diagnostic-Code``; the original message (``message/rfc822`` or ``text/rfc822-headers``)
  gives the ``Message-ID`` that names our communication;
- qmail's plain text (``Hi. This is the qmail-send program``): ``<address>:`` blocks with
  the remote server's answer;
- Exim's older plain text (``This message was created automatically by mail delivery
  software``): the address lines indented under the explanation, then the SMTP error.

A failure is *hard* (the address does not work: 5.x.x, except a full mailbox 5.2.2 and
message-size or policy limits 5.2.3/5.3.4) or *soft* (4.x.x, a full mailbox, a server that
could not be reached). ``Action: delayed`` is a warning, not a bounce.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message

HARD = "hard"
SOFT = "soft"
_SOFT_5XX = ("5.2.2", "5.2.3", "5.3.4", "5.4.7")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([45])(\d\d)[ -]")
_MSGID = re.compile(r"^Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_ADDRESS = re.compile(r"<?([^\s<>\"]+@[^\s<>\"]+?)>?:?\s*$")


@dataclass(frozen=True)
class Failure:
    """One recipient a DSN reports: address, hard or soft, status, the server's words."""

    address: str
    severity: str
    status: str | None
    diagnostic: str | None


@dataclass(frozen=True)
class Inbound:
    """What an inbound message is: ``bounce`` (with failures), ``delay``, ``auto_reply``,
    ``reply`` or ``other``; the Message-ID it answers; its own Message-ID."""

    kind: str
    failures: tuple[Failure, ...]
    original_message_id: str | None
    message_id: str | None
    sender: str | None
    subject: str | None
    mta: str


def severity(status: str | None, diagnostic: str | None = None) -> str:
    """Hard or soft from an enhanced status code (or an SMTP code in the diagnostic)."""
    if status:
        if status.startswith("4") or status in _SOFT_5XX:
            return SOFT
        if status.startswith("5"):
            return HARD
    code = _SMTP_CODE.search(diagnostic or "")
    if code:
        return HARD if code.group(1) == "5" and code.group(0)[:3] != "552" else SOFT
    return SOFT


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, "replace")
        except LookupError:
            return payload.decode("utf-8", "replace")
    return str(part.get_payload())


def _address(value: str | None) -> str | None:
    if not value:
        return None
    _, _, addr = value.partition(";")
    addr = (addr or value).strip().strip("<>").strip()
    return addr or None


def _status_blocks(part: Message) -> list[Message]:
    """The per-recipient blocks of a ``message/delivery-status`` part."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        parts = [p for p in payload if isinstance(p, Message)]
        return parts[1:] if len(parts) > 1 else parts
    text = _text(part)
    blocks = re.split(r"\r?\n\s*\r?\n", text.strip())
    return [email.message_from_string(b) for b in blocks[1:] if b.strip()]


def _rfc3464(msg: Message) -> tuple[list[Failure], bool, str | None]:
    failures: list[Failure] = []
    delayed = False
    original = None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            for block in _status_blocks(part):
                action = (block.get("Action") or "").strip().lower()
                addr = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
                if not addr:
                    continue
                if action in ("delayed", "delivered", "relayed", "expanded"):
                    delayed = delayed or action == "delayed"
                    continue
                found = _STATUS.search(block.get("Status") or "")
                status = ".".join(found.groups()) if found else None
                diag = " ".join((block.get("Diagnostic-Code") or "").split()) or None
                failures.append(Failure(addr, severity(status, diag), status, diag))
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/global-headers"):
            found_id = _MSGID.search(_headers_text(part))
            original = original or (found_id.group(1) if found_id else None)
    return failures, delayed, original


def _headers_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        inner = payload[0]
        return "".join(f"{k}: {v}\n" for k, v in inner.items())
    return _text(part)


def _plain_failures(body: str) -> list[Failure]:
    """qmail's ``<addr>:`` blocks and Exim's indented address lines."""
    head = body.split("--- Below this line is a copy of the message.")[0]
    head = re.split(r"-{6,} This is a copy of the message", head)[0]
    failures: list[Failure] = []
    lines = head.splitlines()
    for i, line in enumerate(lines):
        match = _ADDRESS.match(line.strip())
        if not match or "@" not in match.group(1) or not line.startswith(("<", "  ", "\t")):
            continue
        if line.strip().startswith("<") is False and not line.startswith(("  ", "\t")):
            continue
        addr = match.group(1)
        words = []
        for follow in lines[i + 1 : i + 6]:
            if not follow.strip() or _ADDRESS.match(follow.strip()):
                break
            words.append(follow.strip())
        diag = " ".join(words) or None
        found = _STATUS.search(diag or "")
        status = ".".join(found.groups()) if found else None
        if diag is None or not (
            _SMTP_CODE.search(diag)
            or status
            or "does not" in diag.lower()
            or "unknown" in diag.lower()
            or "retry" in diag.lower()
        ):
            continue
        failures.append(Failure(addr, severity(status, diag), status, diag))
    return failures


def _mta(msg: Message, body: str) -> str:
    text = " ".join(f"{k}: {v}" for k, v in msg.items()) + body[:2000]
    for name, marker in (
        ("qmail", "qmail-send program"),
        ("exim", "mail delivery software"),
        ("exchange", "X-MS-Exchange"),
        ("postfix", "Postfix"),
    ):
        if marker.lower() in text.lower():
            return name
    return "rfc3464" if msg.get_content_type() == "multipart/report" else "unknown"


def _auto(msg: Message) -> bool:
    auto = (msg.get("Auto-Submitted") or "no").strip().lower()
    if auto != "no":
        return True
    if (msg.get("Precedence") or "").strip().lower() in ("auto_reply", "bulk", "junk"):
        return True
    return any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond"))


def read(raw: bytes) -> Inbound:
    """What ``raw`` (an RFC 5322 message) is; never raises on malformed mail (``other``)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    own = (msg.get("Message-ID") or "").strip() or None
    sender = _address(msg.get("From"))
    subject = " ".join(str(msg.get("Subject") or "").split())[:300] or None
    body = "\n".join(_text(p) for p in msg.walk() if p.get_content_maintype() == "text")
    mta = _mta(msg, body)
    failures, delayed, original = _rfc3464(msg)
    if not failures and msg.get_content_type() != "multipart/report":
        failures = _plain_failures(body)
    if original is None and failures:
        found = _MSGID.search(body.split("\n", 1)[-1]) if body else None
        matches = _MSGID.findall(body)
        original = matches[-1] if matches else (found.group(1) if found else None)
    if failures:
        return Inbound("bounce", tuple(failures), original, own, sender, subject, mta)
    if delayed:
        return Inbound("delay", (), original, own, sender, subject, mta)
    answered = (msg.get("In-Reply-To") or "").strip()
    refs = (msg.get("References") or "").split()
    answered_id = answered.split()[0] if answered else (refs[-1] if refs else None)
    kind = "auto_reply" if _auto(msg) else "reply" if answered_id else "other"
    return Inbound(kind, (), answered_id, own, sender, subject, "")


def as_message(raw: bytes) -> EmailMessage:
    """``raw`` parsed with the modern policy (for showing a reply's text)."""
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]
