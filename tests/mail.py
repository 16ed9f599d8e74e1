"""A real SMTP server for the tests: aiosmtpd on a free local port, keeping what it receives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tests.net import free_port

from closedloop.settings import get_settings

__all__ = ["Inbox", "free_port", "smtp_server"]


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self, base_url: str = "") -> None:
        self.messages: list[EmailMessage] = []
        self.base_url = base_url

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 Message accepted"

    def text(self, index: int = -1) -> str:
        """The plain-text part of message ``index``."""
        body = self.messages[index].get_body(preferencelist=("plain",))
        assert body is not None
        return str(body.get_content())

    def link(self, prefix: str, index: int = -1) -> str:
        """The path of the first link under ``base_url + prefix`` in message ``index``."""
        found = re.search(re.escape(self.base_url + prefix) + r"\S+", self.text(index))
        assert found, self.text(index)
        return found.group(0).removeprefix(self.base_url)


@contextmanager
def smtp_server(monkeypatch: pytest.MonkeyPatch, base_url: str, **settings: str) -> Iterator[Inbox]:
    """Run an SMTP server and point the settings (``CLOSEDLOOP_*``) at it while in use."""
    port = free_port()
    handler = Inbox(base_url)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    values = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "PUBLIC_BASE_URL": base_url}
    for name, value in {**values, **settings}.items():
        monkeypatch.setenv("CLOSEDLOOP_" + name, value)
    get_settings.cache_clear()
    try:
        yield handler
    finally:
        controller.stop()
        get_settings.cache_clear()
