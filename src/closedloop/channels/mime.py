"""MIME bytes of an email, built directly (the :mod:`email` package's objects cost more than
the rest of a send at a thousand messages a second).

The message is ``multipart/alternative`` with a plain-text and an HTML part, both UTF-8 and
quoted-printable (any line length, readable source); a message with attachments (an
invitation's ``.ics``) wraps it in ``multipart/mixed``, each attachment base64. Its
boundaries start with ``=_``, which quoted-printable text can never contain, so no content
can end a part early. Header values that are not ASCII are RFC 2047 encoded words; line
breaks in them are refused (header injection).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, parseaddr

from closedloop.errors import ValidationFailed

BOUNDARY = "=_closedloop_alt_7d1c"
MIXED_BOUNDARY = "=_closedloop_mix_3f9a"


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email: its name, MIME type (with parameters, e.g.
    ``text/calendar; method=REQUEST``) and content."""

    filename: str
    content_type: str
    data: bytes


def one_line(value: str, name: str) -> str:
    """``value`` checked to hold no line break (it goes into a header)."""
    if "\r" in value or "\n" in value:
        raise ValidationFailed(
            f"The email {name} must be on one line.",
            errors=[{"field": name, "message": "line breaks are not allowed in a header"}],
        )
    return value


def header_value(value: str) -> str:
    """An ASCII header value: as is when it is plain and short, else encoded words."""
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def address_header(display: str) -> tuple[str, str]:
    """(``Name <addr>`` as an ASCII header value, the bare address) of ``display``."""
    name, address = parseaddr(one_line(display, "address"))
    if "@" not in address:
        raise ValidationFailed(
            f"Not an email address: {display!r}.",
            errors=[{"field": "to", "message": "not an email address"}],
        )
    return formataddr((name, address), charset="utf-8"), address


def _qp(text: str) -> bytes:
    body = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(body, quotetabs=False, istext=True).replace(b"\n", b"\r\n")


def _part(subtype: str, text: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + _qp(text)


def _body(text: str, html: str | None) -> tuple[str, bytes]:
    """(Content-Type header lines, body) of the text part or the text/HTML alternative."""
    if html is None:
        return "", _part("plain", text)
    sep = f"\r\n--{BOUNDARY}\r\n".encode()
    body = (
        sep[2:]
        + _part("plain", text)
        + sep
        + _part("html", html)
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return f'Content-Type: multipart/alternative; boundary="{BOUNDARY}"\r\n\r\n', body


def _attachment(item: Attachment) -> bytes:
    name = one_line(item.filename, "filename").replace('"', "")
    kind = one_line(item.content_type, "content_type")
    encoded = base64.encodebytes(item.data).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: {kind}; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + encoded


def mime_bytes(
    headers: Sequence[tuple[str, str]],
    text: str,
    html: str | None,
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The whole message: ``headers`` (ASCII values, see :func:`header_value`) then the text
    part, and the HTML alternative when given, then the attachments. Lines end with CRLF."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    head += "MIME-Version: 1.0\r\n"
    kind, body = _body(text, html)
    if not attachments:
        return (head + kind).encode() + body
    head += f'Content-Type: multipart/mixed; boundary="{MIXED_BOUNDARY}"\r\n\r\n'
    sep = f"\r\n--{MIXED_BOUNDARY}\r\n".encode()
    out = head.encode() + sep[2:] + kind.encode() + body
    for item in attachments:
        out += sep + _attachment(item)
    return out + f"\r\n--{MIXED_BOUNDARY}--\r\n".encode()
