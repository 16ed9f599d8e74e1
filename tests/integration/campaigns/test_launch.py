"""A campaign launched for real: extraction from its target segment queues the send ledger,
the send job's sender delivers to a real SMTP server; what changes between extraction and
sending (consent withdrawn, a person erased, a merge asked for) is honoured; scheduled waves
wait for their time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import Rejecting, email_template, person, smtp

from closedloop.campaigns import lifecycle, service, wave_start
from closedloop.campaigns.models import Communication, Offer, Wave
from closedloop.campaigns.schemas import CampaignCreate, CellCreate, WaveCreate
from closedloop.campaigns.sender import WaveSender
from closedloop.consent.models import Suppression
from closedloop.consent.service import record_consent
from closedloop.db.uow import unit_of_work
from closedloop.dedupe.merge import merge_persons
from closedloop.errors import Refused
from closedloop.jobs import service as jobs
from closedloop.jobs.models import Job
from closedloop.segments import freeze_members
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose


def _approved(s: Session, n: int, waves: list[WaveCreate]) -> tuple[int, list[int]]:
    email_template(s, code="launch-mail")
    s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
    people = [person(s, i) for i in range(n)]
    segment = freeze_members(s, "Readers", people, {"kind": "test"})
    data = CampaignCreate(
        code="LAUNCH",
        name="Launch",
        segment_id=segment.id,
        waves=waves,
        cells=[
            CellCreate(
                code="A", name="Mail", channel=Channel.EMAIL, template="launch-mail", offer="CLUB"
            )
        ],
    )
    campaign = service.create_campaign(s, data, created_by="alice")
    lifecycle.approve(s, campaign.id, by="bob")
    return campaign.id, people


def _statuses(factory: sessionmaker[Session], wave_id: int) -> dict[int, tuple[str, str | None]]:
    with factory() as s:
        rows = s.scalars(select(Communication).where(Communication.wave_id == wave_id))
        return {r.person_id: (r.status, r.detail) for r in rows}


def test_launch_extracts_sends_and_honours_what_changed_since_extraction(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        cid, people = _approved(s, 4, [WaveCreate(name="Now")])
    with unit_of_work(factory) as s:
        report = lifecycle.launch(s, cid, by="bob")
    assert report.status == "running" and report.scheduled == []
    [start] = report.started
    assert start.queued == 4
    with factory() as s:
        job = s.get(Job, start.job_id)
        assert job is not None and (job.kind, job.payload) == (
            "campaigns.send", {"wave_id": start.wave_id})  # fmt: skip
    withdrawn, erased, golden, source = people
    with unit_of_work(factory) as s:  # between extraction and sending
        record_consent(s, withdrawn, Channel.EMAIL, Purpose.MARKETING, ConsentState.WITHDRAWN,
                       method=ConsentMethod.UNSUBSCRIBE_LINK)  # fmt: skip
        s.add(Suppression(person_id=erased, reason="erased", note="right to erasure"))
    with pytest.raises(Refused, match="running campaign LAUNCH"), unit_of_work(factory) as s:
        merge_persons(s, golden, source)
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        sent = WaveSender(factory, start.wave_id).run()
    assert sorted(handler.received) == ["reader2@example.org", "reader3@example.org"]
    assert sent.sent == 2 and sent.suppressed == 2
    rows = _statuses(factory, start.wave_id)
    assert rows[withdrawn] == ("suppressed", "consent withdrawn")
    assert rows[erased][0] == "suppressed" and "erased" in (rows[erased][1] or "")
    with unit_of_work(factory) as s:
        assert lifecycle.settle(s, cid).status == "completed"
    with unit_of_work(factory) as s:  # the campaign has completed: the merge may go ahead
        merge_persons(s, golden, source)


def test_a_wave_of_the_future_waits_for_its_time(factory: sessionmaker[Session]) -> None:
    later = datetime.now(UTC) + timedelta(days=3)
    with unit_of_work(factory) as s:
        cid, _people = _approved(s, 2, [WaveCreate(name="Later", scheduled_at=later)])
    with unit_of_work(factory) as s:
        report = lifecycle.launch(s, cid, by="bob")
    assert (report.status, report.started) == ("scheduled", [])
    [wave_id] = report.scheduled
    with factory() as s:
        job = s.scalars(select(Job).where(Job.kind == "campaigns.start_wave")).one()
        assert job.payload == {"wave_id": wave_id} and job.run_after is not None
    with unit_of_work(factory) as s:
        assert wave_start.start_due_wave(s, wave_id) == "not started: rescheduled later"
        assert wave_start.start_due_wave(s, wave_id, now=later + timedelta(minutes=1)).startswith(
            "started: 2 message(s) queued"
        )
    with factory() as s:
        wave = s.get(Wave, wave_id)
        assert wave is not None and wave.status == "running"
        assert service.get_campaign(s, cid).status == "running"


def test_launch_is_refused_until_approved(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        cid, _people = _approved(s, 1, [WaveCreate(name="Now")])
        service.get_campaign(s, cid).status = "draft"
    with (
        pytest.raises(Refused, match="is draft: it cannot be launched"),
        unit_of_work(factory) as s,
    ):
        lifecycle.launch(s, cid, by="bob")


def test_the_worker_sends_a_launched_campaign_and_completes_it(
    engine: Engine, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        cid, _people = _approved(s, 3, [WaveCreate(name="Now")])
    with unit_of_work(factory) as s:
        lifecycle.launch(s, cid, by="bob")
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        assert jobs.run_pending(engine, kinds=["campaigns.send"]) == 1
    assert len(handler.received) == 3
    with factory() as s:
        assert service.get_campaign(s, cid).status == "completed"
        [wave] = service.waves_of(s, cid)
        assert wave.status == "completed"


def test_approval_of_a_large_segment_renders_a_sample_and_says_so(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from closedloop.campaigns import approval_checks

    monkeypatch.setattr(approval_checks, "SAMPLE", 3)  # a large segment is over 3 members
    with unit_of_work(factory) as s:
        email_template(s, code="sample-mail")
        s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
        people = [person(s, i) for i in range(8)]
        segment = freeze_members(s, "Readers", people, {"kind": "test"})
        data = CampaignCreate(code="BIG", name="Big", segment_id=segment.id,
                              waves=[WaveCreate(name="Now")],
                              cells=[CellCreate(code="A", name="Mail", channel=Channel.EMAIL,
                                            template="sample-mail", offer="CLUB")])  # fmt: skip
        campaign = service.create_campaign(s, data, created_by="alice")
        first = approval_checks.analyse_for_approval(s, campaign)
        again = approval_checks.analyse_for_approval(s, campaign)
        _, warnings = lifecycle.approve_checked(s, campaign.id, by="bob")
    sample = [" ".join(f.message.split()) for f in first if f.code == "sample"]
    assert sample == [
        "Checked a random sample of 3 of the 8 recipients: the counts below are the sample's."
    ]
    assert [f.message for f in first] == [f.message for f in again]  # the same sample
    assert "sample" in [f.code for f in warnings]
