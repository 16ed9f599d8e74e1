"""Consents imported a chunk at a time keep the ledger's rules: every event is kept with its
proof, the current state follows the latest event (an older one changes nothing, in the same
file or a later one), and the ledger reads back through the consent service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from closedloop.consent.service import consent_history, current_consents, rebuild_current
from closedloop.ingest.service.runner import Summary

Load = Callable[..., Summary]
Rows = Callable[..., list[tuple[Any, ...]]]
Write = Callable[..., Path]

HEAD = "person_external_id,channel,purpose,state,occurred_at,proof_text\n"


def _current(rows: Rows) -> list[tuple[Any, ...]]:
    return rows(
        "SELECT p.external_id, c.channel, c.state, e.occurred_at FROM consent_current c "
        "JOIN persons p ON p.id = c.person_id JOIN consent_events e ON e.id = c.event_id "
        "ORDER BY p.external_id, c.channel"
    )


def test_the_latest_event_sets_the_current_state(
    write: Write, load: Load, rows: Rows, engine: Engine
) -> None:
    load(write("p.csv", "external_id,given_name,family_name\nC1,Jean,Dupont\nC2,Ana,Pop\n"))
    first = load(
        write(
            "c1.csv",
            HEAD + "C1,email,marketing,granted,2024-03-05 10:00,Yes to offers\n"
            "C1,email,marketing,withdrawn,2024-02-01 10:00,\n"
            "C2,sms,marketing,withdrawn,2024-03-01 09:00,\n"
            "C2,sms,marketing,granted,2024-03-01 10:00,Yes to texts\n"
            "C2,sms,marketing,granted,2024-03-01 10:00,Yes to texts\n",
        ),
        kind="consents",
    )
    assert first.counts["new"] == 4 and first.counts["unchanged"] == 1
    states = [(p, ch, st) for p, ch, st, _ in _current(rows)]
    assert states == [("C1", "email", "granted"), ("C2", "sms", "granted")]
    second = load(
        write(
            "c2.csv",
            HEAD + "C1,email,marketing,withdrawn,2024-04-01 08:00,\n"
            "C2,sms,marketing,withdrawn,2024-01-01 08:00,\n"
            "C2,email,newsletter,granted,2024-05-01 08:00,Monthly letter\n",
        ),
        kind="consents",
    )
    assert second.counts["new"] == 3
    states = [(p, ch, st) for p, ch, st, _ in _current(rows)]
    assert states == [
        ("C1", "email", "withdrawn"), ("C2", "email", "granted"), ("C2", "sms", "granted"),
    ]  # fmt: skip
    assert rows("SELECT COUNT(*) FROM consent_events") == [(7,)]
    with Session(engine) as session:
        pid = rows("SELECT id FROM persons WHERE external_id = 'C2'")[0][0]
        history = consent_history(session, pid)
        assert [(e.channel, e.state) for e in history][:1] == [("email", "granted")]
        assert history[0].occurred_at.replace(tzinfo=UTC) == datetime(2024, 5, 1, 8, tzinfo=UTC)
        assert history[0].proof_text == "Monthly letter"
        before = [
            (c.channel, c.purpose, c.state, c.event_id) for c in current_consents(session, pid)
        ]
        rebuild_current(session, pid)
        after = [
            (c.channel, c.purpose, c.state, c.event_id) for c in current_consents(session, pid)
        ]
        assert before == after
