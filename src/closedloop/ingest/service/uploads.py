"""Uploaded files waiting to be imported: kept in a private folder by token.

The web page uploads a file, shows the suggested mapping, and imports it when the user
confirms: the file waits here in between (under a random token kept in the user's session),
and is deleted after the import or after a day.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from closedloop.settings import get_settings

MAX_AGE_SECONDS = 24 * 3600
_SAFE_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".xlsx", ".xlsm", ".json", ".ndjson",
                  ".jsonl", ".parquet", ".pq"}  # fmt: skip


def folder() -> Path:
    """The private folder of pending uploads (``CLOSEDLOOP_UPLOAD_DIR``, else one under the
    temporary directory), created on first use with mode 700."""
    configured = get_settings().upload_dir
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / "closedloop-imports"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def save(stream: BinaryIO, filename: str) -> tuple[str, Path]:
    """Store an uploaded file; returns (token, path). The token is all a later request needs."""
    _clean_old()
    suffix = Path(filename).suffix.lower()
    token = secrets.token_urlsafe(18)
    path = folder() / (token + (suffix if suffix in _SAFE_SUFFIXES else ""))
    with path.open("wb") as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    return token, path


def find(token: str) -> Path | None:
    """The stored file of ``token``, or None (unknown, expired, or not a token)."""
    if not token or not all(c.isalnum() or c in "-_" for c in token):
        return None
    for path in folder().glob(token + "*"):
        if path.stem == token:
            return path
    return None


def remove(token: str) -> None:
    """Forget an upload."""
    path = find(token)
    if path is not None:
        path.unlink(missing_ok=True)


def _clean_old() -> None:
    limit = time.time() - MAX_AGE_SECONDS
    for path in folder().iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue
