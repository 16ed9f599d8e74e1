"""The demo's campaign ready to launch: approved, launched in one step, and its sending refused
to the demo base's real-looking addresses until the SMTP server is declared a test sink."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import Rejecting, person, smtp

from closedloop.campaigns import lifecycle, service
from closedloop.campaigns.sender import WaveSender
from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.demo.launchable import CODE, ensure_launchable_campaign
from closedloop.errors import Refused
from closedloop.ingest.models import ImportBatch


def test_the_demo_campaign_launches_and_sends_only_to_a_test_sink(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        batch = ImportBatch(kind="demo", source_system="demo", status="done")
        s.add(batch)
        s.flush()
        for i in range(20):
            person(s, i)
        s.execute(update(Person).values(import_batch_id=batch.id))
        assert ensure_launchable_campaign(s) == CODE
        assert ensure_launchable_campaign(s) is None  # once
    with unit_of_work(factory) as s:
        campaign = service.find_campaign(s, CODE)
        assert campaign.status == "approved"
        report = lifecycle.launch(s, campaign.id, by="demo")
    [start] = report.started
    assert 14 <= start.queued <= 20  # about 10 % are held out as the control group
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        with pytest.raises(Refused, match="demo base"):
            WaveSender(factory, start.wave_id).run()
        assert handler.received == []
        monkeypatch.setenv("CLOSEDLOOP_DELIVERY_IS_TEST_SINK", "true")  # e.g. the mail catcher
        assert WaveSender(factory, start.wave_id).run().sent == start.queued
    assert len(handler.received) == start.queued
