"""Fixtures of the response tests: a sent wave of real rows, and response settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import WaveSetup, wave

from closedloop.campaigns.models import Communication
from closedloop.db.uow import unit_of_work
from closedloop.responses.settings import get_response_settings
from closedloop.vocab import Channel


@pytest.fixture()
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set response settings (``name=value``) for the test."""

    def set_(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"CLOSEDLOOP_{name.upper()}", str(value))
        get_response_settings.cache_clear()

    yield set_
    get_response_settings.cache_clear()


@pytest.fixture()
def sent_wave(factory: sessionmaker[Session]) -> Callable[..., tuple[WaveSetup, list[int]]]:
    """A wave of ``n`` persons whose messages were sent ``ago`` (their communication ids)."""

    def make(
        n: int = 2,
        ago: timedelta = timedelta(hours=1),
        channel: Channel = Channel.EMAIL,
        code: str = "C1",
        **kw: object,
    ) -> tuple[WaveSetup, list[int]]:
        with unit_of_work(factory) as s:
            setup = wave(s, n, channel=channel, code=code, **kw)  # type: ignore[arg-type]
            sent = datetime.now(UTC) - ago
            s.execute(
                update(Communication)
                .where(Communication.wave_id == setup.wave_id)
                .values(status="sent", sent_at=sent)
            )
            ids = [
                c.id
                for c in s.query(Communication)
                .filter(Communication.wave_id == setup.wave_id)
                .order_by(Communication.person_id)
            ]
        return setup, ids

    return make


from tests.e2e.conftest import server  # noqa: E402,F401 - the real app under uvicorn
from tests.web.conftest import logged_in  # noqa: E402,F401 - a signed-in browser
