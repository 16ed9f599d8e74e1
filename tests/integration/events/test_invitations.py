"""Invitations go out through the campaign sender to a real SMTP server, with signed RSVP
links and an ``.ics`` (METHOD:REQUEST) that parses back."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.events.setup import invited
from tests.mail import smtp_server

from closedloop.campaigns.sender import WaveSender
from closedloop.campaigns.tracking import read_rsvp


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_invitations_carry_rsvp_links_and_a_calendar_request(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with factory() as s:
        made = invited(s, 3, sent=False)
        s.commit()
    with smtp_server(monkeypatch, "http://crm.test") as inbox:
        report = WaveSender(factory, made.wave_id).run()
    assert report.sent == 3 and len(inbox.messages) == 3
    by_to = {m["To"].addresses[0].addr_spec: m for m in inbox.messages}
    msg = by_to["reader0@example.org"]
    assert msg["Subject"] == "Invitation: Spring gala"
    assert msg.get_content_type() == "multipart/mixed"
    html = msg.get_body(("html",)).get_content()
    links = re.findall(r'href="(http://crm\.test/e/r/[^"?]+)\?answer=(\w+)"', html)
    assert [a for _u, a in links] == ["yes", "no", "maybe"]  # not wrapped as tracked clicks
    token = links[0][0].rsplit("/", 1)[1]
    assert read_rsvp(token) == made.messages[0]
    [ics] = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert ics.get_filename() == "invitation.ics"
    assert ics.get_param("method") == "REQUEST"
    raw = ics.get_payload(decode=True)
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    lines = _unfold(raw.decode("utf-8"))
    assert lines[0] == "BEGIN:VCALENDAR" and "METHOD:REQUEST" in lines
    fields = dict(
        line.split(":", 1) for line in lines if ":" in line and ";" not in line.split(":")[0]
    )
    assert fields["UID"] == f"event-{made.event_id}-person-{made.person_ids[0]}@crm.test"
    assert re.fullmatch(r"\d{8}T\d{6}Z", fields["DTSTART"])
    assert re.fullmatch(r"\d{8}T\d{6}Z", fields["DTEND"]) and fields["DTEND"] > fields["DTSTART"]
    assert fields["SUMMARY"] == "Spring gala"
    assert fields["LOCATION"] == "Hôtel de Ville\\, Place de l'Hôtel de Ville\\, 75004 Paris"
    organiser = next(line for line in lines if line.startswith("ORGANIZER"))
    assert organiser == 'ORGANIZER;CN="Claire Martin":mailto:events@shop.example.com'
    attendee = next(line for line in lines if line.startswith("ATTENDEE"))
    assert attendee.endswith("RSVP=TRUE:mailto:reader0@example.org")
    assert "/e/r/" in fields["DESCRIPTION"]
    other = next(p for p in by_to["reader1@example.org"].iter_attachments())
    other_lines = _unfold(other.get_payload(decode=True).decode())
    assert f"UID:event-{made.event_id}-person-{made.person_ids[1]}@crm.test" in other_lines


def test_a_template_naming_the_event_of_a_campaign_without_one_is_refused_before_sending(
    factory: sessionmaker[Session],
) -> None:
    from tests.integration.campaigns.waves import email_template, wave
    from tests.integration.events.setup import INVITATION

    from closedloop.campaigns.compose import load_plan
    from closedloop.errors import ValidationFailed

    with factory() as s:
        template = email_template(s, body=INVITATION, code="orphan")
        setup = wave(s, 1, template_id=template, code="ORPHAN")
        s.commit()
        with pytest.raises(ValidationFailed) as caught:
            load_plan(s, setup.wave_id)
    assert "invites to no event" in str(caught.value.errors)
