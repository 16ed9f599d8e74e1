"""A small job plugin registered for the tests of the queue (a third-party plugin would do the
same through the ``closedloop`` entry point group)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from closedloop.errors import ValidationFailed
from closedloop.hookspecs import hookimpl, pm
from closedloop.jobs.service import JobContext, Retry


class EchoPlugin:
    """Handlers whose behaviour the payload chooses: echo, fail N times, refuse, retry."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def run(self, ctx: JobContext) -> dict[str, Any]:
        with self.lock:
            self.calls.append((ctx.job_id, ctx.attempts))
        ctx.progress(0.5, "half way")
        if ctx.attempts <= int(ctx.payload.get("fail_times", 0)):
            raise RuntimeError(f"flaky failure {ctx.attempts}")
        if ctx.payload.get("invalid"):
            raise ValidationFailed("The payload names no person.")
        if ctx.payload.get("retry_in") is not None:
            raise Retry("receiver busy", float(ctx.payload["retry_in"]))
        return {"echo": ctx.payload.get("text"), "attempt": ctx.attempts}

    @hookimpl
    def job_handlers(self) -> dict[str, Any]:
        return {"test.echo": self.run}


@pytest.fixture()
def echo() -> Iterator[EchoPlugin]:
    plugin = EchoPlugin()
    pm.register(plugin)
    try:
        yield plugin
    finally:
        pm.unregister(plugin)
