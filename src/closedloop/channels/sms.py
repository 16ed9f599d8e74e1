"""The SMS channel: text messages through an HTTP provider, and their length in segments.

The provider adapter is configured, not coded (``CLOSEDLOOP_SMS_*``): the URL it is POSTed
to, basic or bearer credentials, the body with ``{{sender}}``, ``{{to}}``, ``{{text}}`` and
``{{reference}}`` placeholders (each value JSON-encoded for a JSON body, URL-encoded for a
form body, so a message cannot break out of its field), and the answer's field holding the
provider's message id. 2xx is sent; 429 and 5xx are "not taken, try again later"; another
4xx is refused for good; a request whose answer never came (timeout after sending) is
``unknown`` — it is not sent again.

Length: a text that fits the GSM 03.38 alphabet is counted in 7-bit units (the extension
characters ``^{}\\[~]|€`` take two), 160 in one segment or 153 per segment when split;
anything else is UCS-2, 70 in one segment or 67 per segment (UTF-16 code units).
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import quote_plus, urlsplit

from closedloop.channels.base import ChannelUnavailable, CommitPoint, Delivery, Outcome
from closedloop.channels.settings import ChannelSettings, get_channel_settings
from closedloop.channels.throttle import Throttle

GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsLength:
    """How a text travels: its encoding, its length in that encoding's units, its segments."""

    encoding: str
    units: int
    segments: int

    @property
    def per_segment(self) -> int:
        if self.encoding == "GSM-7":
            return 160 if self.segments <= 1 else 153
        return 70 if self.segments <= 1 else 67


def sms_length(text: str) -> SmsLength:
    """The encoding, units and segments of ``text``."""
    if all(c in GSM7 or c in GSM7_EXTENDED for c in text):
        units = len(text) + sum(1 for c in text if c in GSM7_EXTENDED)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // multi)
    return SmsLength(encoding, units, segments)


@dataclass(frozen=True)
class OutgoingSms:
    """One text message to one number (E.164)."""

    to: str
    text: str
    reference: str


def fill_body(template: str, values: dict[str, str], content_type: str) -> str:
    """The request body: each ``{{name}}`` replaced by its value, encoded for the body type."""
    is_json = "json" in content_type
    out = template
    for name, value in values.items():
        encoded = json.dumps(value, ensure_ascii=False) if is_json else quote_plus(value)
        out = out.replace("{{" + name + "}}", encoded).replace("{{ " + name + " }}", encoded)
    return out


class SmsTransport:
    """A kept-alive HTTP connection to the provider."""

    def __init__(self, channel: SmsChannel) -> None:
        self.channel = channel
        self.throttle = Throttle(channel.settings.sms_rate)
        self.conn: http.client.HTTPConnection | None = None
        self.used_at = 0.0

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is not None and time.monotonic() - self.used_at > 5.0:
            self.close()  # an idle kept-alive link may be closed by the server already
        if self.conn is None:
            parts = urlsplit(self.channel.settings.sms_url)
            cls = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(
                parts.hostname or "localhost",
                parts.port,
                timeout=self.channel.settings.sms_timeout_seconds,
            )
            conn.connect()
            self.conn = conn
        return self.conn

    def send(self, batch: Sequence[OutgoingSms], commit: CommitPoint) -> list[Delivery]:
        """Deliver ``batch`` one request at a time (see :class:`Transport`)."""
        out: list[Delivery] = []
        told = 0
        budget = self.channel.settings.sms_max_segments
        for i, sms in enumerate(batch):
            length = sms_length(sms.text)
            if length.segments > budget:
                out.append(
                    Delivery(
                        i,
                        Outcome.FAILED,
                        f"{length.segments} segments "
                        f"({length.encoding}, {length.units} units) exceed the "
                        f"budget of {budget}",
                    )
                )
                continue
            self.throttle.wait()
            try:
                conn = self._connection()
            except OSError as exc:
                self.close()
                out.append(Delivery(i, Outcome.UNSENT, f"cannot reach the SMS provider: {exc}"))
                continue
            allowed = commit([i], out[told:])
            told = len(out)
            if i not in allowed:
                out.append(Delivery(i, Outcome.UNSENT, "withdrawn before sending"))
                continue
            out.append(self._post(conn, i, sms))
        return out

    def _post(self, conn: http.client.HTTPConnection, i: int, sms: OutgoingSms) -> Delivery:
        s = self.channel.settings
        values = {
            "sender": s.sms_sender,
            "to": sms.to,
            "text": sms.text,
            "reference": sms.reference,
        }
        body = fill_body(s.sms_body_template, values, s.sms_content_type).encode()
        parts = urlsplit(s.sms_url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"Content-Type": s.sms_content_type, "Accept": "application/json"}
        if s.sms_token:
            headers["Authorization"] = f"Bearer {s.sms_token}"
        elif s.sms_username:
            pair = base64.b64encode(f"{s.sms_username}:{s.sms_password}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            answer = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Delivery(i, Outcome.UNKNOWN, f"no answer from the SMS provider: {exc}")
        self.used_at = time.monotonic()
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        detail = f"HTTP {resp.status}: {answer[:200].decode('utf-8', 'replace')}"
        if 200 <= resp.status < 300:
            return Delivery(i, Outcome.SENT, detail, self._provider_id(answer))
        if resp.status == 429 or resp.status >= 500:
            return Delivery(i, Outcome.RETRY, detail)
        return Delivery(i, Outcome.FAILED, detail)

    def _provider_id(self, answer: bytes) -> str | None:
        field = self.channel.settings.sms_id_field
        if not field:
            return None
        try:
            doc = json.loads(answer)
        except ValueError:
            return None
        value = doc.get(field) if isinstance(doc, dict) else None
        return str(value)[:200] if value is not None else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class SmsChannel:
    """SMS through the configured HTTP provider."""

    name: ClassVar[str] = "sms"

    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: ChannelSettings | None = None) -> SmsChannel:
        """The channel configured by ``CLOSEDLOOP_SMS_*``."""
        return cls(settings or get_channel_settings())

    def connect(self) -> SmsTransport:
        """A transport; :class:`ChannelUnavailable` when no provider is configured or it
        cannot be reached."""
        if not self.settings.sms_url:
            raise ChannelUnavailable("No SMS provider is configured (CLOSEDLOOP_SMS_URL).")
        transport = SmsTransport(self)
        try:
            transport._connection()
        except (TimeoutError, OSError) as exc:
            raise ChannelUnavailable(f"Cannot reach the SMS provider: {exc}") from exc
        return transport

    def reference(self, message: OutgoingSms) -> str | None:
        """Our reference of the message (sent to the provider as ``{{reference}}``)."""
        return message.reference

    def settle(self, references: Sequence[str | None]) -> list[bool | None]:
        """A provider is not asked: None for each."""
        return [None] * len(references)
