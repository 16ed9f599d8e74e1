"""The sender delivers a wave's emails to a real SMTP server, once each."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import wave
from tests.mail import smtp_server

from closedloop.campaigns.models import Communication
from closedloop.campaigns.sender import WaveSender
from closedloop.campaigns.tracking import read_click, read_open


def test_a_wave_is_delivered_once_with_parts_headers_and_tracked_links(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with factory() as s:
        setup = wave(s, 12)
        s.commit()
    with smtp_server(monkeypatch, "http://crm.test") as inbox:
        report = WaveSender(factory, setup.wave_id).run()
        again = WaveSender(factory, setup.wave_id).run()
    assert report.sent == 12 and again.sent == 0
    assert len(inbox.messages) == 12
    assert sorted(str(m["To"]) for m in inbox.messages) == sorted(
        f"Ann Reader{i} <reader{i}@example.org>" for i in range(12)
    )
    msg = inbox.messages[0]
    assert msg["Subject"] == "News for Ann"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"].startswith("<http://crm.test/preferences/")
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert 'style="color: #333;"' in html  # CSS inlined
    assert ("Hello Ann," in text and "19,90" in text) or "19.90" in text
    assert "https://shop.example.com" not in html + text  # every shop link is tracked
    click = html.split('href="http://crm.test/t/c/')[1].split('"')[0]
    target = read_click(click)
    assert target.url == "https://shop.example.com/books?id=7&src=mail"
    pixel = html.split('src="http://crm.test/t/o/')[1].split('"')[0]
    with factory() as s:
        rows = s.scalars(select(Communication).where(Communication.wave_id == setup.wave_id)).all()
        assert {r.status for r in rows} == {"sent"}
        assert read_open(pixel) in {r.id for r in rows}
        assert {r.external_ref for r in rows} == {str(m["Message-ID"]) for m in inbox.messages}
        assert target.communication_id in {r.id for r in rows}
