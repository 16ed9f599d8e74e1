"""SMS through an HTTP provider adapter: a local HTTP server answering 200, 500 and not at
all; the body template and the credentials from the settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import wave
from tests.net import free_port

from closedloop.campaigns.models import Communication
from closedloop.campaigns.sender import WaveSender
from closedloop.campaigns.templates import ContentCreate, TemplateCreate, create_template
from closedloop.channels import sms_length
from closedloop.db.uow import unit_of_work
from closedloop.vocab import Channel


class Provider:
    """Answers by the recipient: a plan of answers per number (then 200)."""

    def __init__(self, plan: dict[str, list[str]]) -> None:
        self.plan = plan
        self.requests: list[dict[str, object]] = []
        self.auth: list[str | None] = []


@contextmanager
def provider(plan: dict[str, list[str]]) -> Iterator[tuple[Provider, str]]:
    state = Provider(plan)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            state.auth.append(self.headers.get("Authorization"))
            steps = state.plan.get(str(body["to"]), [])
            step = steps.pop(0) if steps else "200"
            if step == "timeout":
                time.sleep(1.5)
                step = "200"
            answer = json.dumps({"id": f"p{len(state.requests)}"}).encode()
            self.send_response(int(step))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{port}/v1/sms?account=7"
    finally:
        server.shutdown()
        server.server_close()


def test_sms_go_through_the_provider_with_500s_retried_and_timeouts_unconfirmed(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        t = create_template(
            s,
            TemplateCreate(
                code="sms",
                name="SMS",
                channel=Channel.SMS,
                contents=[
                    ContentCreate(
                        locale="en", body='{{ person.given_name }}: "{{ offer.name }}" -20%'
                    )
                ],
            ),
        ).id
        setup = wave(s, 3, channel=Channel.SMS, template_id=t, phone=True, email=False)
    numbers = [f"+3361234{i:04d}" for i in range(3)]
    plan = {numbers[1]: ["500"], numbers[2]: ["timeout"]}
    with provider(plan) as (state, url):
        for name, value in {
            "SMS_URL": url,
            "SMS_USERNAME": "acme",
            "SMS_PASSWORD": "s3cret",
            "SMS_TIMEOUT_SECONDS": "0.5",
            "SEND_RETRY_SECONDS": "0",
        }.items():
            monkeypatch.setenv("CLOSEDLOOP_" + name, value)
        report = WaveSender(factory, setup.wave_id).run()
        again = WaveSender(factory, setup.wave_id).run()
        time.sleep(1.2)  # the provider finishes the request it was slow to answer
    assert report.sent == 2 and report.unconfirmed == 1 and again.sent == 0
    assert state.requests[0] == {
        "from": "closedloop",
        "to": numbers[0],
        "text": 'Ann: "Book club" -20%',
    }
    assert state.auth[0] == "Basic YWNtZTpzM2NyZXQ="
    # the 500 was tried again; the timed-out one was not (it may have gone out)
    assert [r["to"] for r in state.requests].count(numbers[1]) == 2
    assert [r["to"] for r in state.requests].count(numbers[2]) == 1
    with factory() as s:
        rows = {
            r.recipient: r
            for r in s.scalars(select(Communication).where(Communication.wave_id == setup.wave_id))
        }
    assert rows[numbers[0]].status == "sent" and rows[numbers[0]].external_ref == "p1"
    assert rows[numbers[1]].status == "sent" and rows[numbers[1]].attempts == 2
    assert rows[numbers[2]].status == "unconfirmed"


def test_sms_length_counts_gsm7_extension_characters_and_ucs2() -> None:
    assert sms_length("a" * 160) == type(sms_length(""))("GSM-7", 160, 1)
    assert sms_length("a" * 161).segments == 2
    assert sms_length("{" * 80).units == 160  # each extension character takes two units
    assert sms_length("€" * 81).segments == 2
    assert sms_length("ç" + "a" * 69).encoding == "UCS-2"  # ç is not in GSM-7 (Ç is)
    assert sms_length("ç" + "a" * 70).segments == 2
    assert sms_length("😀" * 35).units == 70  # outside the BMP: two UTF-16 units
    assert sms_length("a" * 306).segments == 2 and sms_length("a" * 307).segments == 3
