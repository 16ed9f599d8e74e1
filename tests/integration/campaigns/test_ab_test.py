"""A/B test with an automatic winner: test cells to a share, the winner on clicks, the rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from tests.integration.campaigns.base import T0, Spec, base, campaign

from closedloop.campaigns.ab_test import decide
from closedloop.campaigns.extraction import extract_wave
from closedloop.campaigns.models import Communication
from closedloop.errors import Conflict
from closedloop.responses.models import Response


def test_the_rest_get_the_cell_with_the_best_click_rate(session: Session) -> None:
    ids = base(session, [Spec() for _ in range(60)])
    made = campaign(session, "ABW", ids, cells=(("A", "email", 0.5), ("B", "email", 0.5)),
                    ab_test_share=0.3, ab_metric="click", ab_decide_after_hours=24)  # fmt: skip
    first = extract_wave(session, made.wave_id)
    assert first.queued + first.excluded["ab_pending"] == 60
    assert 5 < first.queued < 35
    with pytest.raises(Conflict, match="no test message was sent yet"):
        decide(session, "ABW", now=T0)
    sent_at = T0 + timedelta(hours=1)
    session.execute(update(Communication).values(status="sent", sent_at=sent_at))
    rows = session.execute(
        select(Communication.id, Communication.person_id, Communication.cell_id)
    ).all()
    for cid, pid, cell_id in rows:
        if cell_id == made.cells["B"]:
            at = sent_at + timedelta(hours=2)
            session.add(Response(person_id=pid, campaign_id=made.campaign_id,
                                 communication_id=cid, kind="click", occurred_at=at))  # fmt: skip
    session.flush()
    with pytest.raises(Conflict, match="the winner is picked at 2026-12-02 10:00 UTC"):
        decide(session, "ABW", now=sent_at + timedelta(hours=3))
    decision = decide(session, "ABW", now=sent_at + timedelta(hours=25))
    assert decision.winner_cell_id == made.cells["B"]
    rest = decision.waves[0]
    assert rest["queued"] == first.excluded["ab_pending"]
    assert rest["by_cell"] == {"B": rest["queued"]}
    total = session.scalars(select(Communication.person_id)).all()
    assert sorted(total) == sorted(ids)  # everyone once: the test part and the rest
