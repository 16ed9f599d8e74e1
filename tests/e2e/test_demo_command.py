"""Smoke test of README command 1: `closedloop demo` builds a base, starts, answers, catches the
emails it sends (sign-up → confirmation read on the outbox → confirmed), stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.net import free_port


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, html[-2000:]
    return found.group(1)


def _follow_the_signup_by_email(base: str) -> None:
    """Sign up on the demo's public form, read the confirmation on the outbox as the demo
    admin, and confirm with its link."""
    with httpx.Client(base_url=base, timeout=10) as visitor:
        form = visitor.get("/signup/newsletter")
        sent = visitor.post(
            "/signup/newsletter",
            data={
                "ticket": _field(form.text, "ticket"),
                "email": "lea@example.org",
                "given_name": "Léa",
                "topics": ["news"],
                "channels": ["email"],
                "website": "",
            },
        )
        assert sent.status_code == 200, sent.text[-2000:]
    with httpx.Client(base_url=base, timeout=10) as admin:
        login = admin.get("/login")
        logged = admin.post(
            "/login",
            data={
                "username": "admin",
                "password": "closedloop-demo",
                "next": "/",
                "csrf_token": _field(login.text, "csrf_token"),
            },
        )
        assert logged.status_code in (200, 303), logged.text[-2000:]
        opened = None
        deadline = time.monotonic() + 90  # the worker thread sends the email
        while opened is None and time.monotonic() < deadline:
            outbox = admin.get("/outbox")
            assert outbox.status_code == 200
            opened = re.search(r'<a href="(/outbox/\d+)">', outbox.text)
            if opened is None:
                time.sleep(1)
        assert opened, "the confirmation email never reached the outbox"
        message = admin.get(opened.group(1)).text
    link = re.search(r'<a href="' + re.escape(base) + r'(/signup/confirm/[^"]+)">', message)
    assert link, message[-3000:]
    with httpx.Client(base_url=base, timeout=10) as visitor:
        assert visitor.get(link.group(1)).status_code == 200
        done = visitor.post(link.group(1))
        assert done.status_code == 200
        assert re.search(r'href="' + re.escape(base) + r"/preferences/", done.text)


@pytest.mark.e2e
def test_demo_command_serves_the_app_and_catches_its_emails(tmp_path: Path) -> None:
    port, mail_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CLOSEDLOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "CLOSEDLOOP_SECRET_KEY": "demo-smoke-test",
        "CLOSEDLOOP_SIGNUP_MIN_SECONDS": "0",
    }
    for name in ("CLOSEDLOOP_SMTP_HOST", "CLOSEDLOOP_SMTP_PORT", "CLOSEDLOOP_PUBLIC_BASE_URL"):
        env.pop(name, None)
    cli = str(Path(sys.executable).parent / "closedloop")
    proc = subprocess.Popen(
        [cli, "demo", "--persons", "300", "--port", str(port), "--mail-port", str(mail_port)],
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
                status = httpx.get(f"{base}/login", timeout=2).status_code
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert status == 200, f"login page did not answer (exit code {proc.poll()})"
        # The API refuses anonymous writes: what answers is really closedloop.
        anonymous = httpx.post(f"{base}/api/v1/persons", timeout=5)
        assert anonymous.status_code == 401
        # The demo's public sign-up form answers without a login.
        signup = httpx.get(f"{base}/signup/newsletter", timeout=5)
        assert signup.status_code == 200 and "Stay in touch" in signup.text
        _follow_the_signup_by_email(base)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode is not None
    assert "admin" in out and "closedloop-demo" in out, out[-2000:]
    assert f"{base}/signup/newsletter" in out
    assert f"{base}/outbox" in out and f"127.0.0.1:{mail_port}" in out
