"""Postal letters: a PDF mail-merge (one letter per person) and a print-shop CSV per batch.

Layout (A4, DIN 5008 form B): the address field at 20 mm from the left and 45 mm from the
top, 85 × 45 mm — a one-line return address in small print, then up to six address lines —
so it shows through the window of DIN 680 window envelopes (C5 folded once, C6/5 and DL
folded in three); fold marks at 105 and 210 mm and a punch mark at 148.5 mm. The address
lines follow the destination country's format (:mod:`.postal_format`).

A batch is written to ``<letter_dir>/wave-<id>/letters-<first>-<last>/`` (``letters.pdf``
and ``print.csv``: reference, first page, pages, the address lines) by writing a temporary
folder and renaming it: a batch folder is there whole or not at all. A letter counts as sent
once its batch folder exists; a sender killed before the rename leaves nothing, and the next
one finds the folder or not (:meth:`LetterChannel.settle`), so letters are exactly-once.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from closedloop.channels.base import ChannelUnavailable, CommitPoint, Delivery, Outcome
from closedloop.channels.postal_format import PostalAddress, address_block
from closedloop.channels.settings import ChannelSettings, get_channel_settings
from closedloop.settings import get_settings

if TYPE_CHECKING:
    from fpdf import FPDF

__all__ = ["LetterChannel", "OutgoingLetter", "PostalAddress", "address_block"]

ADDRESS_X, ADDRESS_Y, ADDRESS_W = 20.0, 45.0, 85.0
RETURN_H, LINE_H, MAX_LINES = 5.0, 4.6, 6
BODY_X, BODY_W, SUBJECT_Y = 25.0, 165.0, 98.0
CSV_COLUMNS = ("reference", "first_page", "pages", *(f"line{i}" for i in range(1, 8)))


@dataclass(frozen=True)
class OutgoingLetter:
    """One letter: where it goes, its subject line and its text (blank lines separate
    paragraphs; ``**bold**`` is bold)."""

    reference: str
    address: PostalAddress
    subject: str | None
    body: str


class LetterTransport:
    """Writes batches of letters as PDF and CSV files."""

    def __init__(self, channel: LetterChannel) -> None:
        self.channel = channel

    def send(self, batch: Sequence[OutgoingLetter], commit: CommitPoint) -> list[Delivery]:
        """Write ``batch`` (see :class:`closedloop.channels.base.Transport`)."""
        out: list[Delivery] = []
        good: list[tuple[int, OutgoingLetter, list[str]]] = []
        for i, letter in enumerate(batch):
            lines = self.channel.lines(letter)
            if len(lines) < 3 or len(lines) > MAX_LINES + 1:
                out.append(
                    Delivery(
                        i,
                        Outcome.FAILED,
                        f"the address has {len(lines)} lines; a window shows 3 to {MAX_LINES + 1}",
                    )
                )
                continue
            good.append((i, letter, lines))
        if not good:
            return out
        pdf, rows = self.channel.render([(letter, lines) for _i, letter, lines in good])
        folder = self.channel.batch_folder(good[0][1].reference, good[-1][1].reference)
        if folder.is_dir():  # written by an earlier run that stopped before recording it
            commit([i for i, _l, _x in good], out)
            return out + [Delivery(i, Outcome.SENT, f"in {folder}") for i, _l, _x in good]
        part = folder.with_name(folder.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        _write(part / "letters.pdf", pdf)
        _write(part / "print.csv", rows.encode("utf-8"))
        allowed = commit([i for i, _l, _x in good], out)
        if len(allowed) < len(good):  # some rows changed meanwhile: write the batch again
            shutil.rmtree(part)
            kept = [(i, letter) for i, letter, _x in good if i in allowed]
            retry = self.send([letter for _i, letter in kept], lambda ids, _d: ids)
            out += [Delivery(kept[d.index][0], d.outcome, d.detail) for d in retry]
            out += [
                Delivery(i, Outcome.UNSENT, "withdrawn before sending")
                for i, _l, _x in good
                if i not in allowed
            ]
            return out
        os.replace(part, folder)
        _fsync_dir(folder.parent)
        out += [Delivery(i, Outcome.SENT, f"written to {folder}") for i, _l, _x in good]
        return out

    def close(self) -> None:
        """Nothing to close."""


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LetterChannel:
    """Letters as PDF files for a print shop."""

    name: ClassVar[str] = "letter"

    def __init__(self, settings: ChannelSettings, *, from_country: str | None = None) -> None:
        self.settings = settings
        self.from_country = (
            settings.letter_country or from_country or get_settings().default_country
        ).upper()

    @classmethod
    def from_settings(cls, settings: ChannelSettings | None = None) -> LetterChannel:
        """The channel configured by ``CLOSEDLOOP_LETTER_*``."""
        return cls(settings or get_channel_settings())

    def lines(self, letter: OutgoingLetter) -> list[str]:
        """The address block of ``letter``."""
        return address_block(letter.address, from_country=self.from_country)

    def wave_folder(self, reference: str) -> Path:
        """The folder of the wave a reference (``<wave>-<row>``) belongs to."""
        return self.settings.letter_dir / f"wave-{reference.partition('-')[0]}"

    def batch_folder(self, first: str, last: str) -> Path:
        """The folder of the batch from letter ``first`` to ``last``."""
        return self.wave_folder(first) / f"letters-{first}-{last.partition('-')[2]}"

    def connect(self) -> LetterTransport:
        """A transport; :class:`ChannelUnavailable` when the folder or the fonts are missing."""
        for font in (self.settings.letter_font, self.settings.letter_font_bold):
            if not font.is_file():
                raise ChannelUnavailable(
                    f"The letter font {font} is missing (CLOSEDLOOP_LETTER_FONT); on Debian: "
                    "apt-get install fonts-dejavu-core."
                )
        try:
            self.settings.letter_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ChannelUnavailable(
                f"Cannot write letters to {self.settings.letter_dir}: {exc}"
            ) from exc
        return LetterTransport(self)

    def reference(self, message: OutgoingLetter) -> str | None:
        """``<wave>-<row>``: the line of the print-shop CSV that names the letter."""
        return message.reference

    def settle(self, references: Sequence[str | None]) -> list[bool | None]:
        """True for letters in a finished batch (its CSV names them), False otherwise."""
        written: set[str] = set()
        for folder in {self.wave_folder(r) for r in references if r}:
            for sheet in folder.glob("letters-*/print.csv"):
                with sheet.open(newline="", encoding="utf-8") as fh:
                    written |= {row["reference"] for row in csv.DictReader(fh)}
        return [r in written if r else None for r in references]

    def render(self, letters: Sequence[tuple[OutgoingLetter, list[str]]]) -> tuple[bytes, str]:
        """The PDF of ``letters`` and the print-shop CSV."""
        from fpdf import FPDF  # loaded when letters are written (it brings numpy along)

        pdf = FPDF(format="A4", unit="mm")
        pdf.set_auto_page_break(True, margin=25)
        pdf.add_font("body", "", str(self.settings.letter_font))
        pdf.add_font("body", "B", str(self.settings.letter_font_bold))
        fallbacks = []
        for n, path in enumerate(self.settings.letter_fallback_fonts):
            pdf.add_font(f"fallback{n}", "", str(path))
            fallbacks.append(f"fallback{n}")
        if fallbacks:
            pdf.set_fallback_fonts(fallbacks, exact_match=False)
        sheet = io.StringIO()
        writer = csv.writer(sheet)
        writer.writerow(CSV_COLUMNS)
        today = date.today().isoformat()
        for letter, lines in letters:
            first = pdf.page + 1
            self._letter(pdf, letter, lines, today)
            padded = [*lines, *[""] * (7 - len(lines))][:7]
            writer.writerow([letter.reference, first, pdf.page - first + 1, *padded])
        return bytes(pdf.output()), sheet.getvalue()

    def _letter(self, pdf: FPDF, letter: OutgoingLetter, lines: list[str], today: str) -> None:
        pdf.add_page()
        pdf.set_draw_color(150)
        for y in (105.0, 210.0):
            pdf.line(3, y, 8, y)  # fold marks
        pdf.line(3, 148.5, 6, 148.5)  # punch mark
        if self.settings.letter_return_address:
            pdf.set_font("body", size=7)
            pdf.set_xy(ADDRESS_X, ADDRESS_Y + RETURN_H * 2)
            pdf.cell(ADDRESS_W, 4, self.settings.letter_return_address[:90], border="B")
        pdf.set_font("body", size=10)
        y = ADDRESS_Y + 17.7
        for line in lines:
            pdf.set_xy(ADDRESS_X, y)
            pdf.cell(ADDRESS_W, LINE_H, line)
            y += LINE_H
        pdf.set_xy(BODY_X, SUBJECT_Y - 8)
        pdf.cell(BODY_W, 5, today, align="R")
        pdf.set_xy(BODY_X, SUBJECT_Y)
        if letter.subject:
            pdf.set_font("body", "B", 11)
            pdf.multi_cell(BODY_W, 5.5, letter.subject)
            pdf.ln(4)
        pdf.set_font("body", size=11)
        for paragraph in letter.body.strip().split("\n\n"):
            pdf.set_x(BODY_X)
            pdf.multi_cell(BODY_W, 5.5, paragraph.strip(), markdown=True)
            pdf.ln(3)
