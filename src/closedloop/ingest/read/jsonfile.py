"""JSON and NDJSON: an array of objects (streamed, never loaded whole), one object per line,
or an object holding one array of records (``{"persons": [...]}``, loaded whole).

Nested objects become dotted columns (``address.postal_code``); lists become JSON text. The
columns are the keys of the first 1,000 records; a later record with another key is reported
on its row (a value is never dropped silently).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from closedloop.ingest.read.base import Row, RowProblem, Table, TableError, cell_text
from closedloop.ingest.read.delimited import detect_encoding

SAMPLE_RECORDS = 1000
_BLOCK = 1 << 20
_MAX_RECORD = 64 << 20
_decoder = json.JSONDecoder()


def unknown_keys(keys: list[str]) -> RowProblem:
    """The problem of a record holding keys that are not columns (columns are the keys of the
    first records)."""
    names = ", ".join(keys)
    return RowProblem(
        f"keys not among the columns (they are not in the first records): {names}; "
        "add them to the first record or import them separately",
        field=names,
    )


def flatten(record: Any, prefix: str = "") -> dict[str, Any]:
    """``{"address": {"city": "Lyon"}}`` → ``{"address.city": "Lyon"}``."""
    if not isinstance(record, dict):
        return {prefix or "value": record}
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten(value, name))
        elif isinstance(value, list):
            out[name] = json.dumps(value, ensure_ascii=False) if value else None
        else:
            out[name] = value
    return out


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


class _ArrayStream:
    """Objects of a top-level JSON array, decoded one at a time from 1 MiB blocks."""

    def __init__(self, path: Path, encoding: str, chars: list[int]) -> None:
        self.chars = chars
        self.fh = path.open("r", encoding=encoding, errors="strict")
        self.buf = ""
        self.pos = 0
        self.line = 1  # line number at self.pos
        self.eof = False
        self.bytes_hint = 0

    def _more(self) -> bool:
        if self.eof:
            return False
        block = self.fh.read(_BLOCK)
        if not block:
            self.eof = True
            return False
        self.line += self.buf.count("\n", 0, self.pos)
        self.chars[0] += len(block)
        self.buf = self.buf[self.pos :] + block
        self.pos = 0
        return True

    def _skip(self, chars: str) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in chars:
                self.pos += 1
            if self.pos < len(self.buf) or not self._more():
                return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def _error(self, message: str, index: int | None = None) -> TableError:
        index = self.pos if index is None else index
        line, col = _position(self.buf, index)
        line += self.line - 1
        return TableError(f"Malformed JSON at line {line}, column {col}: {message}.")

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        try:
            if self._skip(" \t\r\n\ufeff") != "[":
                raise self._error("expected '[' (an array of records)")
            self.pos += 1
            first = True
            while True:
                ch = self._skip(" \t\r\n")
                if ch == "]":
                    return
                if not first:
                    if ch != ",":
                        raise self._error("expected ',' or ']' after a record")
                    self.pos += 1
                    ch = self._skip(" \t\r\n")
                first = False
                if ch == "":
                    raise self._error("the array is not closed (the file is cut short?)")
                while True:
                    try:
                        value, end = _decoder.raw_decode(self.buf, self.pos)
                        break
                    except json.JSONDecodeError as exc:
                        # Only a record cut by the end of the block is read on; a record
                        # larger than the limit or broken inside is an error at once.
                        cut = exc.pos >= len(self.buf) - 1 or exc.msg.startswith("Unterminated")
                        if not cut or len(self.buf) - self.pos > _MAX_RECORD:
                            raise self._error(exc.msg, exc.pos) from exc
                        if not self._more():
                            raise self._error(exc.msg, exc.pos) from exc
                line = self.line + self.buf.count("\n", 0, self.pos)
                self.pos = end
                yield line, value
        except UnicodeDecodeError as exc:
            raise TableError(f"The JSON file is not valid text ({exc.reason}).") from exc
        finally:
            self.fh.close()


def _ndjson(path: Path, encoding: str, chars: list[int]) -> Iterator[tuple[int, Any]]:
    with path.open("r", encoding=encoding, errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            chars[0] += len(line)
            text = line.strip()
            if not text:
                continue
            try:
                yield line_no, json.loads(text)
            except json.JSONDecodeError as exc:
                yield line_no, _Malformed(f"malformed JSON, column {exc.colno}: {exc.msg}")


class _Malformed:
    """An NDJSON line that is not JSON: its row is rejected, the others are read."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _shape(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, errors="replace") as fh:
        head = fh.read(_BLOCK)
    text = head.lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "array"
    if not text.startswith("{"):
        raise TableError(
            "Malformed JSON at line 1: expected an array of records, one record per line "
            "(NDJSON) or an object holding an array of records."
        )
    first = text.split("\n", 1)[0].strip()
    try:
        json.loads(first)
    except json.JSONDecodeError:
        return "document"
    return "ndjson"


def _document(path: Path, encoding: str) -> list[tuple[int, Any]]:
    try:
        with path.open("r", encoding=encoding) as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise TableError(
            f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
        ) from exc
    lists = [v for v in doc.values() if isinstance(v, list)] if isinstance(doc, dict) else []
    if len(lists) != 1:
        raise TableError(
            "The JSON object must hold exactly one array of records "
            '(like {"persons": [...]}), or be an array or NDJSON itself.'
        )
    return [(i, item) for i, item in enumerate(lists[0], start=1)]


def open_json(path: Path, *, encoding: str | None) -> Table:
    """Open a JSON or NDJSON file of records."""
    with path.open("rb") as fh:
        sample = fh.read(1 << 16)
    enc = encoding or detect_encoding(sample)
    shape = _shape(path, enc)
    size = path.stat().st_size
    doc = _document(path, enc) if shape == "document" else None
    chars = [0]

    def records() -> Iterator[tuple[int, Any]]:
        if doc is not None:
            return iter(doc)
        chars[0] = 0
        if shape == "array":
            return iter(_ArrayStream(path, enc, chars))
        return _ndjson(path, enc, chars)

    keys: dict[str, None] = {}
    for count, (_line, record) in enumerate(records()):
        if count >= SAMPLE_RECORDS:
            break
        if isinstance(record, _Malformed):
            continue
        if not isinstance(record, dict):
            raise TableError(f"Record {count + 1} is not an object: {str(record)[:60]}.")
        keys.update(dict.fromkeys(flatten(record)))
    if not keys:
        raise TableError("The file holds no records.")
    headers = list(keys)
    index = {name: i for i, name in enumerate(headers)}

    def rows(skip: int) -> Iterator[Row]:
        seen = 0
        for line_no, record in records():
            seen += 1
            if seen <= skip:
                continue
            if isinstance(record, _Malformed):
                yield line_no, RowProblem(record.reason)
                continue
            if not isinstance(record, dict):
                yield line_no, RowProblem("the record is not a JSON object")
                continue
            values: list[str | None] = [None] * len(headers)
            extra = []
            for key, value in flatten(record).items():
                i = index.get(key)
                if i is None:
                    if value is not None:
                        extra.append(key)
                    continue
                values[i] = cell_text(value)
            if extra:
                yield line_no, unknown_keys(extra)
                continue
            yield line_no, values

    def progress() -> float:
        return 0.0 if not size else min(1.0, chars[0] / size)

    return Table(
        format="json",
        headers=headers,
        rows_factory=rows,
        progress=progress,
        encoding=enc,
        total_rows=len(doc) if doc is not None else None,
    )
