"""Letters: one PDF page per person with the address in the window's place and the
country's format, a print-shop CSV, and exactly once across a killed run."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import wave

from closedloop.campaigns.models import Communication
from closedloop.campaigns.sender import WaveSender
from closedloop.campaigns.templates import ContentCreate, TemplateCreate, create_template
from closedloop.channels import PostalAddress, address_block
from closedloop.channels.letter import LetterChannel
from closedloop.channels.settings import ChannelSettings
from closedloop.contacts.models import Address
from closedloop.db.uow import unit_of_work
from closedloop.vocab import Channel

BODY = "Dear {{ person.given_name }},\n\nour **{{ offer.name }}** awaits you.\n\nRegards"


def _letters(factory: sessionmaker[Session], n: int) -> int:
    with unit_of_work(factory) as s:
        t = create_template(
            s,
            TemplateCreate(
                code="letter",
                name="Letter",
                channel=Channel.LETTER,
                contents=[ContentCreate(locale="en", subject="Your book club", body=BODY)],
            ),
        ).id
        setup = wave(s, n, channel=Channel.LETTER, template_id=t, postal=True, email=False)
        first = setup.person_ids[0]
        s.execute(
            update(Address)
            .where(Address.person_id == first)
            .values(line1="Hauptstraße 5", postal_code="10115", locality="Berlin", country="DE")
        )
        return setup.wave_id


def test_a_letter_wave_writes_a_pdf_and_a_print_shop_csv(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wave_id = _letters(factory, 3)
    monkeypatch.setenv("CLOSEDLOOP_LETTER_DIR", str(tmp_path))
    monkeypatch.setenv("CLOSEDLOOP_LETTER_COUNTRY", "FR")
    report = WaveSender(factory, wave_id).run()
    assert report.sent == 3
    [folder] = (tmp_path / f"wave-{wave_id}").iterdir()
    reader = PdfReader(folder / "letters.pdf")
    assert len(reader.pages) == 3
    page = reader.pages[0].extract_text()
    assert "Ann Reader0\nHauptstraße 5\n10115 Berlin\nGERMANY" in page
    assert "Your book club" in page and "Book club" in page and "Dear Ann," in page
    assert "1 rue de la Paix\n75002 PARIS" in reader.pages[1].extract_text()
    with (folder / "print.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["first_page"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["line4"] == "GERMANY" and rows[1]["line3"] == "75002 PARIS"
    # where the address sits: the window of DIN 5008 form B (20 mm left, 45 mm from the top)
    seen: list[tuple[float, float, str]] = []
    reader.pages[0].extract_text(
        visitor_text=lambda t, _cm, tm, _f, _s: (
            seen.append((tm[4], tm[5], t)) if t.strip() else None
        )
    )
    x, y, _ = next(item for item in seen if "Ann Reader0" in item[2])
    mm = 72 / 25.4
    assert 20 <= x / mm <= 26 and 45 < (297 - y / mm) < 45 + 45


def test_a_batch_is_there_whole_or_not_at_all_after_a_kill(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wave_id = _letters(factory, 2)
    monkeypatch.setenv("CLOSEDLOOP_LETTER_DIR", str(tmp_path))
    WaveSender(factory, wave_id).run()
    with unit_of_work(factory) as s:  # as if killed after writing, before recording
        s.execute(
            update(Communication).where(Communication.wave_id == wave_id).values(status="sending")
        )
    report = WaveSender(factory, wave_id).run()
    assert report.unconfirmed == 0 and report.sent == 0
    with factory() as s:
        statuses = set(
            s.scalars(select(Communication.status).where(Communication.wave_id == wave_id))
        )
    assert statuses == {"sent"}
    assert len(list((tmp_path / f"wave-{wave_id}").iterdir())) == 1
    # a batch whose folder was never renamed is written again
    channel = LetterChannel(ChannelSettings(letter_dir=tmp_path))
    assert channel.settle([f"{wave_id}-999999", None]) == [False, None]


@pytest.mark.parametrize(
    ("address", "lines"),
    [
        (
            PostalAddress("Jean Dupont", "12 rue de la Paix", None, "75002", "Paris", None, "FR"),
            ["Jean Dupont", "12 rue de la Paix", "75002 PARIS"],
        ),
        (
            PostalAddress("John Smith", "10 Downing St", None, "SW1A 2AA", "London", None, "GB"),
            ["John Smith", "10 Downing St", "LONDON", "SW1A 2AA", "UNITED KINGDOM"],
        ),
        (
            PostalAddress("Jane Roe", "1 Main St", "Apt 4", "10001", "New York", "NY", "US"),
            ["Jane Roe", "1 Main St", "Apt 4", "NEW YORK NY 10001", "UNITED STATES"],
        ),
        (
            PostalAddress("Mario Rossi", "Via Roma 1", None, "00144", "Roma", "RM", "IT"),
            ["Mario Rossi", "Via Roma 1", "00144 ROMA RM", "ITALY"],
        ),
        (
            PostalAddress("王伟", "中山路1号", None, "200000", "上海市", "上海", "CN"),
            ["200000", "上海上海市", "中山路1号", "王伟", "CHINA"],
        ),
    ],
)
def test_address_blocks_follow_the_destination_country(
    address: PostalAddress, lines: list[str]
) -> None:
    assert address_block(address, from_country="FR") == lines
