"""The analysis before sending refuses or warns, with counts, without sending anything."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import email_template, wave

from closedloop.campaigns.checks import analyse_wave
from closedloop.campaigns.models import Cell, MessageContent
from closedloop.campaigns.seeds import SeedCreate, add_seed
from closedloop.campaigns.templates import ContentCreate, TemplateCreate, create_template
from closedloop.channels import ChannelSettings
from closedloop.consent.service import record_consent
from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose


def _codes(analysis: object) -> dict[str, tuple[str, int | None]]:
    return {f.code: (f.severity.value, f.count) for f in analysis.findings}  # type: ignore[attr-defined]


def test_a_clean_wave_passes_and_says_what_it_would_do(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 5)
        add_seed(s, SeedCreate(channel=Channel.EMAIL, address="monitor@company.test"))
        record_consent(
            s,
            setup.person_ids[0],
            Channel.EMAIL,
            Purpose.MARKETING,
            ConsentState.WITHDRAWN,
            method=ConsentMethod.AGENT,
        )
    with factory() as s:
        analysis = analyse_wave(s, setup.wave_id)
    assert analysis.ok and analysis.queued == 5 and analysis.would_send == 4
    assert _codes(analysis) == {"suppressed": ("warning", 1)}


def test_missing_unsubscribe_subject_and_a_field_empty_for_some_are_errors(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        template = email_template(
            s, body="<p>Dear {{ person.given_name }}</p>", subject="x", code="bare"
        )
        setup = wave(s, 6, template_id=template)
        s.execute(update(MessageContent).values(subject=None))
        s.execute(update(Person).where(Person.id.in_(setup.person_ids[:2])).values(given_name=None))
    with factory() as s:
        analysis = analyse_wave(s, setup.wave_id)
    codes = _codes(analysis)
    assert not analysis.ok
    assert codes["no_unsubscribe"] == ("error", None)
    assert codes["missing_subject"] == ("error", None)
    assert codes["missing_field"] == ("error", 2)
    assert codes["no_seeds"] == ("warning", None)
    missing = next(f for f in analysis.findings if f.code == "missing_field")
    assert missing.message.startswith("person.given_name is empty for 2 of 6 recipients")


def test_a_template_broken_after_it_was_saved_is_reported_not_sent(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 2)
        s.execute(update(MessageContent).values(body="<p>{% for x in %}</p>"))
    with factory() as s:
        analysis = analyse_wave(s, setup.wave_id)
    assert not analysis.ok
    assert analysis.findings[0].code == "template"
    assert "cell A" in analysis.findings[0].message and "line 1" in analysis.findings[0].message


def test_sms_over_budget_and_ucs2_are_counted(factory: sessionmaker[Session]) -> None:
    long_gsm = "Offre {{ offer.name }} : " + "a" * 480  # 4 GSM-7 segments
    with unit_of_work(factory) as s:
        t = create_template(
            s,
            TemplateCreate(
                code="sms",
                name="SMS",
                channel=Channel.SMS,
                contents=[ContentCreate(locale="en", body=long_gsm)],
            ),
        ).id
        setup = wave(s, 3, channel=Channel.SMS, template_id=t, phone=True, code="S1")
        curly = create_template(
            s,
            TemplateCreate(
                code="sms2",
                name="SMS",
                channel=Channel.SMS,
                contents=[ContentCreate(locale="en", body="It’s {{ offer.name }}")],
            ),
        )
        s.execute(update(Cell).where(Cell.id == setup.cell_id).values(template_id=t))
    with factory() as s:
        over = analyse_wave(s, setup.wave_id, settings=ChannelSettings(sms_max_segments=3))
    assert _codes(over)["sms_over_budget"] == ("error", 3)
    with unit_of_work(factory) as s:
        s.execute(update(Cell).where(Cell.id == setup.cell_id).values(template_id=curly.id))
    with factory() as s:
        ucs2 = analyse_wave(s, setup.wave_id)
    assert ucs2.ok
    finding = next(f for f in ucs2.findings if f.code == "sms_ucs2")
    assert finding.count == 3 and finding.message.endswith("because of: ’")


def test_an_email_over_102_kb_is_a_warning(factory: sessionmaker[Session]) -> None:
    body = (
        '<p>{{ person.given_name }}</p><a href="{{ unsubscribe_url }}">u</a>' + "<p>x</p>" * 15000
    )
    with unit_of_work(factory) as s:
        setup = wave(s, 1, template_id=email_template(s, body=body, code="big"))
    with factory() as s:
        analysis = analyse_wave(s, setup.wave_id)
    assert _codes(analysis)["email_clipped"] == ("warning", 1)
