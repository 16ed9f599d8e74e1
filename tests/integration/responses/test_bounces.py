"""Bounces and replies: DSNs of several MTAs through a real SMTP endpoint and mailbox files;
hard bounces suppress at once, soft ones after repeats; nothing counted twice."""

from __future__ import annotations

import mailbox
import smtplib
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from tests.net import free_port

from closedloop.campaigns.models import Communication
from closedloop.consent.models import Suppression
from closedloop.db.uow import unit_of_work
from closedloop.responses import dsn
from closedloop.responses.mailin import InboundSmtp, read_mailbox
from closedloop.responses.models import Response

from . import samples


def msgid(comm: int) -> str:
    return f"<w1.m{comm}.k3x9@shop.example.com>"


@pytest.fixture()
def mailed(
    factory: sessionmaker[Session], sent_wave: Callable[..., tuple]
) -> tuple[object, list[int]]:
    setup, comms = sent_wave(5)
    with unit_of_work(factory) as s:
        for i, comm in enumerate(comms):
            s.execute(
                update(Communication)
                .where(Communication.id == comm)
                .values(external_ref=msgid(comm), recipient=f"reader{i}@example.org")
            )
    return setup, comms


@pytest.mark.parametrize(
    ("sample", "mta", "status"),
    [
        (samples.postfix, "postfix", "5.1.1"),
        (samples.exim_plain, "exim", "5.1.1"),
        (samples.exchange, "exchange", "5.1.10"),
        (samples.qmail, "qmail", "5.1.1"),
    ],
)
def test_each_mta_s_bounce_names_the_address_the_failure_and_our_message(
    sample: Callable[[str, str], bytes], mta: str, status: str
) -> None:
    info = dsn.read(sample("reader0@example.org", msgid(7)))
    assert info.kind == "bounce" and info.mta == mta
    (failure,) = info.failures
    assert failure.address == "reader0@example.org"
    assert (failure.severity, failure.status) == ("hard", status)
    assert info.original_message_id == msgid(7)


def test_full_mailbox_and_delay_are_soft_and_malformed_mail_is_nothing() -> None:
    (soft,) = dsn.read(samples.full_mailbox("a@example.org", msgid(1), 1)).failures
    assert (soft.severity, soft.status) == ("soft", "4.2.2")
    (quota,) = dsn.read(samples.qmail("a@example.org", msgid(1), full=True)).failures
    assert quota.severity == "soft"
    assert dsn.read(samples.delayed("a@example.org", msgid(1))).kind == "delay"
    for raw in samples.MALFORMED:
        info = dsn.read(raw)
        assert info.kind == "other" and info.failures == ()


def _send(port: int, raw: bytes) -> None:
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # SMTP's line ends
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail("", ["bounces@shop.example.com"], raw)


def test_dsns_through_the_inbound_smtp_endpoint_record_bounces_and_suppress(
    factory: sessionmaker[Session], mailed: tuple
) -> None:
    setup, comms = mailed
    port = free_port()
    with InboundSmtp(factory, port=port):
        for i, sample in enumerate(
            (samples.postfix, samples.exim_plain, samples.exchange, samples.qmail)
        ):
            _send(port, sample(f"reader{i}@example.org", msgid(comms[i])))
        _send(port, samples.postfix("reader0@example.org", msgid(comms[0])))  # the same again
        for raw in samples.MALFORMED[1:]:
            _send(port, raw)  # accepted, and nothing comes of it
        _send(port, samples.delayed("reader4@example.org", msgid(comms[4])))
    with factory() as s:
        bounces = s.scalars(select(Response).order_by(Response.id)).all()
        assert [(b.kind, b.communication_id) for b in bounces] == [("bounce", c) for c in comms[:4]]
        for b, pid in zip(bounces, setup.person_ids, strict=False):
            assert (b.person_id, b.wave_id, b.cell_id) == (pid, setup.wave_id, setup.cell_id)
            assert b.detail["severity"] == "hard"
        assert bounces[0].hits == 2  # the same DSN twice: one bounce
        statuses = dict(s.execute(select(Communication.id, Communication.status)).all())
        assert [statuses[c] for c in comms] == ["bounced"] * 4 + ["sent"]
        suppressed = s.scalars(select(Suppression.value_key).order_by(Suppression.value_key))
        assert list(suppressed) == [f"reader{i}@example.org" for i in range(4)]


def test_soft_bounces_suppress_after_the_limit_and_a_dsn_read_twice_counts_once(
    factory: sessionmaker[Session], mailed: tuple, tmp_path: Path
) -> None:
    _, comms = mailed
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    box.add(samples.full_mailbox("reader1@example.org", msgid(comms[1]), 1))
    box.add(samples.full_mailbox("reader1@example.org", msgid(comms[1]), 2))
    box.flush()
    assert read_mailbox(factory, tmp_path / "bounces.mbox")["bounce"] == 2
    assert read_mailbox(factory, tmp_path / "bounces.mbox")["bounce"] == 2  # again: no change
    with factory() as s:
        assert s.scalars(select(Suppression)).all() == []
        assert len(s.scalars(select(Response)).all()) == 2
    folder = mailbox.Maildir(tmp_path / "Maildir", create=True)
    folder.add(samples.full_mailbox("reader1@example.org", msgid(comms[1]), 3))
    folder.flush()
    counts = read_mailbox(factory, tmp_path / "Maildir")
    assert (counts["bounce"], counts["suppressed"]) == (1, 1)
    with factory() as s:
        (row,) = s.scalars(select(Suppression)).all()
        assert (row.value_key, row.channel) == ("reader1@example.org", "email")
        assert row.reason == "bounced"
        assert "3 soft bounces" in (row.note or "")


def test_a_bounce_for_an_unknown_message_falls_back_to_the_last_email_to_the_address(
    factory: sessionmaker[Session], mailed: tuple, tmp_path: Path
) -> None:
    _, comms = mailed
    box = mailbox.mbox(tmp_path / "in.mbox")
    box.add(samples.postfix("reader2@example.org", "<not-ours@elsewhere.example>"))
    box.flush()
    read_mailbox(factory, tmp_path / "in.mbox")
    with factory() as s:
        (bounce,) = s.scalars(select(Response)).all()
        assert bounce.communication_id == comms[2]


def test_replies_and_auto_replies_to_our_messages(
    factory: sessionmaker[Session], mailed: tuple, tmp_path: Path
) -> None:
    setup, comms = mailed
    box = mailbox.mbox(tmp_path / "replies.mbox")
    box.add(samples.reply(msgid(comms[0])))
    box.add(samples.reply(msgid(comms[0]), auto=True))
    box.add(samples.reply("<someone-else@example.net>"))
    box.flush()
    counts = read_mailbox(factory, tmp_path / "replies.mbox")
    assert (counts["reply"], counts["auto_reply"], counts["other"]) == (1, 1, 1)
    with factory() as s:
        rows = s.scalars(select(Response).order_by(Response.id)).all()
        assert [(r.kind, r.machine, r.person_id) for r in rows] == [
            ("reply", None, setup.person_ids[0]),
            ("reply", "auto_reply", setup.person_ids[0]),
        ]
        assert rows[0].detail["subject"] == "Re: News for Ann"
