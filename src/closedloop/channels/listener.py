"""An SMTP server inside the process (aiosmtpd), started and stopped the same way wherever one
listens: the demo's mail catcher (:mod:`closedloop.channels.catcher`) and the inbound endpoint
for bounces and replies (``closedloop.responses.mailin``)."""

from __future__ import annotations

import socket
from typing import Any, Self


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port of ``host`` that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class SmtpListener:
    """An SMTP server on ``host``:``port`` (a free port when 0), in a thread of its own,
    handing each message to ``handler`` (an aiosmtpd handler). Usable as ``with``."""

    #: the largest message accepted, in bytes (None: aiosmtpd's default)
    data_size_limit: int | None = None

    def __init__(self, handler: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler, self.host, self.port = handler, host, port
        self._controller: Any = None

    def start(self) -> Self:
        """Listen; returns self (``port`` is then the port it listens on)."""
        from aiosmtpd.controller import Controller

        if not self.port:
            self.port = free_port(self.host)
        extra: dict[str, Any] = {}
        if self.data_size_limit is not None:
            extra["data_size_limit"] = self.data_size_limit
        controller = Controller(self.handler, hostname=self.host, port=self.port, **extra)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening (what was already received stays)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
