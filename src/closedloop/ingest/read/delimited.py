"""CSV and TSV: encoding and delimiter detected, mixed encodings survived, fields of any size.

Encoding: a byte-order mark decides (UTF-8, UTF-16); else a sample that is valid UTF-8 is
UTF-8; else charset-normalizer names it (Windows-1252 for Western European text, GB18030 for
Chinese, Windows-1250 for Central European…). A UTF-8 file with a few lines saved in another
encoding (mixed encodings) is read as UTF-8 and each invalid byte as Windows-1252, and the
batch says so in a warning. The delimiter is the one of ``, ; TAB |`` that splits the first
lines into the same number of columns.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from charset_normalizer import from_bytes

from closedloop.ingest.read.base import Row, Table, TableError, unique_headers

SAMPLE_BYTES = 1 << 20
#: The largest field read (a runaway quote stops here instead of swallowing the file).
FIELD_LIMIT = 64 << 20
DELIMITERS = (",", ";", "\t", "|")
_FALLBACK = "closedloop-cp1252"
_CJK = ("gb18030", "gbk", "gb2312", "hz", "big5", "big5hkscs", "cp950", "cp936")
#: Single-byte code pages kept as detected (Cyrillic, Greek, Turkish, Baltic).
_KEPT = frozenset({"cp1251", "cp1253", "cp1254", "cp1257"})
#: Central European code pages, kept when the text reads better in them than in cp1252.
_CENTRAL = frozenset({"cp1250", "iso8859_2", "iso8859_16"})
_CENTRAL_LETTERS = frozenset("ăĂșȘțȚşŞţŢőŐűŰłŁśŚźŹżŻčČřŘžŽěĚňŇťŤďĎůŮ")
_WESTERN_LETTERS = frozenset("àÀâÂèÈêÊëËîÎïÏôÔûÛùÙçÇœŒÿñÑãõÃÕ")


def _letters(sample: bytes, encoding: str, letters: frozenset[str]) -> int:
    text = sample[:200_000].decode(encoding, errors="ignore")
    return sum(1 for ch in text if ch in letters)


_fallbacks = [0]
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _mostly_utf8(sample: bytes) -> bool:
    """True when at least a fifth of the lines with non-ASCII bytes are valid UTF-8: a UTF-8
    file in which some lines were saved in a legacy encoding (a legacy file almost never has
    a line that happens to be valid UTF-8)."""
    good = bad = 0
    for line in sample.splitlines()[:-1] or sample.splitlines():
        if not _HIGH_BYTE.search(line):
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
    return good > 0 and good * 4 >= bad


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not valid UTF-8 as Windows-1252 (Latin-1 for its 5 holes)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _fallbacks[0] += 1
    chunk = exc.object[exc.start : exc.end]
    return chunk.decode("cp1252", errors="ignore") or chunk.decode("latin-1"), exc.end


codecs.register_error(_FALLBACK, _cp1252_fallback)


def _valid_utf8_prefix(sample: bytes) -> bool:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is not an error.
        return exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data"
    return True


def detect_encoding(sample: bytes) -> str:
    """The encoding of a file starting with ``sample`` (a Python codec name)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _valid_utf8_prefix(sample):
        return "utf-8"
    if _mostly_utf8(sample):
        return "utf-8"  # UTF-8 with some lines saved in another encoding: mixed
    best = from_bytes(sample[:200_000]).best()
    name = (best.encoding if best else "cp1252").lower().replace("-", "_")
    if name in _CJK:
        return name if name in ("big5", "big5hkscs", "cp950") else "gb18030"
    if name in _CENTRAL:
        return name if _letters(sample, name, _CENTRAL_LETTERS) > _letters(
            sample, "cp1252", _WESTERN_LETTERS
        ) else "cp1252"  # fmt: skip
    if name in _KEPT or name.startswith(("utf", "shift_jis", "euc", "iso2022", "koi8")):
        return name
    # Any other single-byte guess (cp775, mac_roman, latin_1…) is Western European text
    # written by a spreadsheet: Windows-1252, the superset of Latin-1 they use.
    return "cp1252"


def _errors_for(encoding: str) -> str:
    return _FALLBACK if encoding in ("utf-8", "utf-8-sig") else "replace"


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the sample's first lines into equal, multiple columns."""
    lines = text.splitlines()[:50]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last sampled line may be cut
    best, best_score = ",", (0.0, 0)
    for delim in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delim) if r]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        same = sum(1 for c in counts if c == counts[0]) / len(counts)
        score = (round(same, 2), counts[0])
        if score > best_score:
            best, best_score = delim, score
    return best


def open_delimited(path: Path, *, encoding: str | None, delimiter: str | None) -> Table:
    """Open a CSV/TSV file; see the module docstring for what is detected."""
    csv.field_size_limit(min(FIELD_LIMIT, sys.maxsize))
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    enc = encoding or detect_encoding(sample)
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise TableError(f"Unknown encoding {enc!r}.") from exc
    text_sample = sample.decode(enc, errors="replace")
    if delimiter in ("\\t", "tab", "TAB"):
        delimiter = "\t"
    delim = delimiter or detect_delimiter(text_sample)
    if len(delim) != 1:
        raise TableError(f"The delimiter must be one character, not {delim!r}.")
    size = path.stat().st_size
    warnings: list[str] = []
    state: dict[str, object] = {}

    def opener() -> tuple[io.BufferedReader, io.TextIOWrapper]:
        raw = path.open("rb")
        text = io.TextIOWrapper(raw, encoding=enc, errors=_errors_for(enc), newline="")
        return raw, text

    _raw, text = opener()
    reader = csv.reader(text, delimiter=delim, strict=False)
    try:
        header_row = next((r for r in reader if any(c.strip() for c in r)), None)
    except csv.Error as exc:
        text.close()
        raise TableError(f"Line {reader.line_num}: {exc}.") from exc
    if header_row is None:
        text.close()
        raise TableError("The file has no header line (it is empty or holds only blank lines).")
    headers = unique_headers(list(header_row))
    header_lines = reader.line_num
    text.close()

    def rows(skip: int) -> Iterator[Row]:
        raw, text = opener()
        state["raw"] = raw
        before = _fallbacks[0]
        reader = csv.reader(text, delimiter=delim, strict=False)
        width = len(headers)
        try:
            for _ in range(header_lines):
                next(reader, None)
            seen = 0
            last = reader.line_num
            for record in reader:
                line_no, last = last + 1, reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                seen += 1
                if seen <= skip:
                    continue
                values: list[str | None] = [c if c and not c.isspace() else None for c in record]
                if len(values) < width:
                    values.extend([None] * (width - len(values)))
                elif len(values) > width and not any(v is not None for v in values[width:]):
                    del values[width:]  # trailing empty cells ("a;b;c;;")
                yield line_no, values
        except csv.Error as exc:
            raise TableError(f"Line {reader.line_num + 1}: {exc}.") from exc
        finally:
            if _fallbacks[0] > before:
                warnings.append(
                    "Some lines are not valid UTF-8 (mixed encodings): their accented "
                    "characters were read as Windows-1252."
                )
            text.close()

    def progress() -> float:
        handle = state.get("raw")
        if not isinstance(handle, io.BufferedReader) or handle.closed or not size:
            return 0.0
        return min(1.0, handle.tell() / size)

    return Table(
        format="csv",
        headers=headers,
        rows_factory=rows,
        progress=progress,
        encoding=enc,
        delimiter=delim,
        warnings=warnings,
    )
