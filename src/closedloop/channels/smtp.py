"""A small SMTP client (RFC 5321) with command pipelining (RFC 2920) and a hook before the
final dot of DATA, which :mod:`smtplib` does not offer.

The final ``.`` of DATA is the moment a server takes a message over; everything before it can
be dropped by closing the connection. :class:`SmtpConnection` therefore sends a message in two
halves: :meth:`~SmtpConnection.start` (MAIL, RCPT, DATA and the content, without the dot) and
:meth:`~SmtpConnection.finish` (the dot and the server's answer), so the caller can record the
message as ``sending`` in between.
"""

from __future__ import annotations

import base64
import socket
import ssl
from dataclasses import dataclass, field

#: RFC 5321 §4.5.3.2: how long a client should wait for the answer to the final dot.
DATA_TIMEOUT = 600.0


class SmtpReplyError(Exception):
    """The server answered with an error code."""

    def __init__(self, code: int, text: str, step: str) -> None:
        super().__init__(f"{step}: {code} {text}")
        self.code, self.text, self.step = code, text, step

    @property
    def temporary(self) -> bool:
        """4xx: try again later; 5xx: refused for good."""
        return 400 <= self.code < 500


@dataclass
class Reply:
    """One (possibly multi-line) SMTP reply."""

    code: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 400


def dot_stuffed(content: bytes) -> bytes:
    """``content`` (CRLF lines) ready for DATA: a line starting with ``.`` gets another one,
    and it ends with CRLF (the final ``.`` is sent by :meth:`SmtpConnection.finish`)."""
    if content.startswith(b"."):
        content = b"." + content
    content = content.replace(b"\r\n.", b"\r\n..")
    return content if content.endswith(b"\r\n") else content + b"\r\n"


@dataclass
class SmtpConnection:
    """One connection to an SMTP server."""

    host: str
    port: int
    timeout: float = 30.0
    data_timeout: float = DATA_TIMEOUT
    helo_name: str = field(default_factory=socket.getfqdn)
    extensions: dict[str, str] = field(default_factory=dict)
    _sock: socket.socket | None = field(default=None, repr=False)
    _buf: bytes = field(default=b"", repr=False)

    # --- the link -----------------------------------------------------------------------
    def open(
        self, *, starttls: bool = False, username: str = "", password: str = ""
    ) -> SmtpConnection:
        """Connect, greet (EHLO), upgrade with STARTTLS and log in when asked."""
        self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._expect(self.read(), "greeting")
        self.ehlo()
        if starttls:
            if "starttls" not in self.extensions:
                raise SmtpReplyError(530, "the server does not offer STARTTLS", "STARTTLS")
            self._expect(self.command(b"STARTTLS"), "STARTTLS")
            context = ssl.create_default_context()
            self._sock = context.wrap_socket(self._sock, server_hostname=self.host)
            self._buf = b""
            self.ehlo()
        if username:
            secret = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
            self._expect(self.command(f"AUTH PLAIN {secret}".encode()), "AUTH")
        return self

    def ehlo(self) -> None:
        """Greet the server and read the extensions it offers (HELO for an old server)."""
        reply = self.command(b"EHLO " + self.helo_name.encode("idna"))
        if not reply.ok:
            self._expect(self.command(b"HELO " + self.helo_name.encode("idna")), "HELO")
            self.extensions = {}
            return
        self.extensions = {}
        for line in reply.text.split("\n")[1:]:
            name, _, value = line.strip().partition(" ")
            self.extensions[name.lower()] = value

    @property
    def pipelining(self) -> bool:
        return "pipelining" in self.extensions

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def close(self) -> None:
        """Say QUIT if the link still works, then close it."""
        if self._sock is None:
            return
        try:
            self.write(b"QUIT\r\n")
            self._sock.settimeout(min(self.timeout, 2.0))
            self.read()
        except (OSError, SmtpReplyError):
            pass
        self.drop()

    def drop(self) -> None:
        """Close the socket at once (a server drops an unfinished DATA)."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock, self._buf = None, b""

    # --- bytes ----------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._sock is None:
            raise ConnectionError("the SMTP connection is closed")
        self._sock.sendall(data)

    def read(self, timeout: float | None = None) -> Reply:
        """Read one reply (all its lines)."""
        if self._sock is None:
            raise ConnectionError("the SMTP connection is closed")
        self._sock.settimeout(timeout or self.timeout)
        lines: list[str] = []
        while True:
            end = self._buf.find(b"\n")
            while end < 0:
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the SMTP server closed the connection")
                self._buf += chunk
                end = self._buf.find(b"\n")
            line, self._buf = self._buf[:end].rstrip(b"\r"), self._buf[end + 1 :]
            text = line.decode("utf-8", "replace")
            if len(text) < 3 or not text[:3].isdigit():
                raise ConnectionError(f"not an SMTP reply: {text[:80]!r}")
            lines.append(text[4:])
            if len(text) == 3 or text[3] != "-":
                return Reply(int(text[:3]), "\n".join(lines))

    def command(self, line: bytes) -> Reply:
        self.write(line + b"\r\n")
        return self.read()

    @staticmethod
    def _expect(reply: Reply, step: str) -> Reply:
        if not reply.ok:
            raise SmtpReplyError(reply.code, reply.text, step)
        return reply

    # --- one message in two halves --------------------------------------------------------
    def envelope(self, sender: str, recipient: str) -> list[bytes]:
        """The MAIL, RCPT and DATA commands of one message."""
        return [
            f"MAIL FROM:<{sender}>".encode()
            + (
                b" SMTPUTF8"
                if _non_ascii(sender, recipient) and "smtputf8" in self.extensions
                else b""
            ),
            f"RCPT TO:<{recipient}>".encode(),
            b"DATA",
        ]

    def send_envelope(self, sender: str, recipient: str) -> None:
        """Write MAIL, RCPT and DATA at once (the server offers PIPELINING)."""
        self.write(b"".join(c + b"\r\n" for c in self.envelope(sender, recipient)))

    def read_envelope(self) -> None:
        """Read the three answers of :meth:`send_envelope`; :class:`SmtpReplyError` names the
        first refusal (the whole transaction is then reset)."""
        replies = [self.read(), self.read(), self.read()]
        for reply, step in zip(replies, ("MAIL", "RCPT", "DATA"), strict=True):
            if not reply.ok:
                if replies[2].code == 354:  # a server that accepted DATA after all
                    self.write(b".\r\n")
                    self.read()
                self._reset()
                raise SmtpReplyError(reply.code, reply.text, step)

    def envelope_step_by_step(self, sender: str, recipient: str) -> None:
        """MAIL, RCPT and DATA one answer at a time (a server without PIPELINING)."""
        for line, step in zip(
            self.envelope(sender, recipient), ("MAIL", "RCPT", "DATA"), strict=True
        ):
            reply = self.command(line)
            if not reply.ok:
                self._reset()
                raise SmtpReplyError(reply.code, reply.text, step)

    def start(self, sender: str, recipient: str, content: bytes) -> None:
        """Everything of one message but the final dot; nothing is delivered yet."""
        if self.pipelining:
            self.send_envelope(sender, recipient)
            self.read_envelope()
        else:
            self.envelope_step_by_step(sender, recipient)
        self.write(dot_stuffed(content))

    def finish(self) -> Reply:
        """The final dot: the server takes the message over and answers."""
        self.write(b".\r\n")
        return self.read(self.data_timeout)

    def _reset(self) -> None:
        try:
            self.command(b"RSET")
        except OSError:
            self.drop()


def _non_ascii(*values: str) -> bool:
    return any(not v.isascii() for v in values)
