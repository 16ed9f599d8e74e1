"""Smoke test of README command 1: `closedloop demo` builds a base, starts, answers, stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.net import free_port


@pytest.mark.e2e
def test_demo_command_serves_the_login_page(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CLOSEDLOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "CLOSEDLOOP_SECRET_KEY": "demo-smoke-test",
    }
    cli = str(Path(sys.executable).parent / "closedloop")
    proc = subprocess.Popen(
        [cli, "demo", "--persons", "300", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert status == 200, f"login page did not answer (exit code {proc.poll()})"
        # The API refuses anonymous writes: what answers is really closedloop.
        anonymous = httpx.post(f"http://127.0.0.1:{port}/api/v1/persons", timeout=5)
        assert anonymous.status_code == 401
        # The demo's public sign-up form answers without a login.
        signup = httpx.get(f"http://127.0.0.1:{port}/signup/newsletter", timeout=5)
        assert signup.status_code == 200 and "Stay in touch" in signup.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode is not None
    assert "admin" in out and "closedloop-demo" in out, out[-2000:]
    assert f"http://127.0.0.1:{port}/signup/newsletter" in out
