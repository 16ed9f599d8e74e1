"""``closedloop serve`` starts the real server on the configured store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine
from typer.testing import CliRunner

from closedloop.cli.main import app as cli_app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_is_a_command() -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--reload" in result.output


def test_serve_answers_with_the_login_page(engine: Engine) -> None:
    port = _free_port()
    env = dict(os.environ)  # CLOSEDLOOP_DATABASE_URL and the secret come from the fixtures
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "closedloop"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read().decode() if proc.stdout else ""
                    raise AssertionError(f"the server did not start:\n{output}") from None
                time.sleep(0.2)
        assert response.status_code == 200
        assert 'name="csrf_token"' in response.text
        assert response.headers["x-frame-options"] == "DENY"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
