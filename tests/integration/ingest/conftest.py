"""Helpers of the import tests: write a file, run an import, read the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from closedloop.ingest.map.mapping import MappingRequest
from closedloop.ingest.service.runner import Summary, run_import
from closedloop.ingest.validate.context import Options


@pytest.fixture()
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write ``content`` (text or bytes) to a file called ``name``; returns its path."""

    def make(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding=encoding)
        return path

    return make


@pytest.fixture()
def load(engine: Engine) -> Callable[..., Summary]:
    """Import a file: ``load(path, kind="persons", source="erp", progress=None, **options)``."""

    def run(path: Path, kind: str = "persons", source: str = "erp", **kw: Any) -> Summary:
        mapping = MappingRequest(
            explicit=kw.pop("explicit", {}),
            as_attribute=kw.pop("as_attribute", []),
            as_identifier=kw.pop("as_identifier", []),
            ignore=kw.pop("ignore", []),
        )
        kw.setdefault("workers", 0)
        progress = kw.pop("progress", None)
        options = Options(source=source, filename=path.name, mapping=mapping, **kw)
        return run_import(engine, path, kind, options, progress=progress)

    return run


@pytest.fixture()
def rows(engine: Engine) -> Callable[..., list[tuple[Any, ...]]]:
    """Rows of a SQL query on the test store."""

    def query(sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    return query
