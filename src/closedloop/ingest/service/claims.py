"""Who runs an import batch, and which batch a run takes: a resumable one of the same file,
kind, source and mapping (unless its process still lives), or a new one.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

import psutil
from sqlalchemy import Connection, insert, select, update

from closedloop.db.base import as_utc, utcnow
from closedloop.errors import Conflict
from closedloop.ingest.map.fields import Kind
from closedloop.ingest.map.mapping import Mapping
from closedloop.ingest.models import ImportBatch
from closedloop.ingest.read import Table
from closedloop.ingest.validate.context import Options

#: A batch left ``running`` by another machine is resumable after this long without news.
STALE_AFTER = timedelta(minutes=10)


def owner_id() -> str:
    """``host:pid:start`` of this process (a batch's owner; pids are reused, starts are not)."""
    start = int(psutil.Process(os.getpid()).create_time())
    return f"{socket.gethostname()}:{os.getpid()}:{start}"


def owner_alive(owner: str | None, heartbeat: Any) -> bool:
    """Whether the process that runs a batch is still alive."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, start_text = rest.partition(":")
    if host != socket.gethostname():
        return heartbeat is not None and utcnow() - as_utc(heartbeat) < STALE_AFTER
    try:
        proc = psutil.Process(int(pid_text))
        return int(proc.create_time()) == int(start_text or 0) and proc.status() != "zombie"
    except (psutil.NoSuchProcess, ValueError):
        return False


def start_batch(
    conn: Connection,
    kind: Kind,
    options: Options,
    mapping: Mapping,
    digest: tuple[str, int],
    table: Table,
) -> tuple[int, int, dict[str, int]]:
    """The batch to run: a resumable one of the same file, kind, source and mapping, or a new
    one. Returns (id, rows already done, counts so far)."""
    sha, size = digest
    signature = mapping.signature()
    if not options.dry_run and options.resume:
        found = conn.execute(
            select(
                ImportBatch.id,
                ImportBatch.status,
                ImportBatch.options,
                ImportBatch.owner,
                ImportBatch.heartbeat_at,
                ImportBatch.rows_done,
                ImportBatch.counts,
            )
            .where(
                ImportBatch.kind == kind.name,
                ImportBatch.source_system == options.source,
                ImportBatch.file_sha256 == sha,
                ImportBatch.status.in_(("running", "failed")),
                ImportBatch.dry_run.is_(False),
            )
            .order_by(ImportBatch.id.desc())
            .limit(1)
        ).first()
        if found is not None:
            batch = found
            if (batch.options or {}).get("signature") == signature:
                # a failed run has ended, even in a process that lives on (a job worker)
                if batch.status == "running" and owner_alive(batch.owner, batch.heartbeat_at):
                    raise Conflict(
                        f"This file is being imported right now (batch {batch.id}, "
                        f"{batch.owner}); wait for it to finish."
                    )
                conn.execute(
                    update(ImportBatch)
                    .where(ImportBatch.id == batch.id)
                    .values(status="running", owner=owner_id(), heartbeat_at=utcnow(), error=None)
                )
                return batch.id, batch.rows_done, dict(batch.counts or {})
    batch_options: dict[str, Any] = {
        "signature": signature,
        "mapping": mapping.as_json(),
        "file": table.describe(),
        "date_order": options.date_order,
        "default_country": options.default_country,
        "warnings": [],
    }
    batch_id = conn.execute(
        insert(ImportBatch).returning(ImportBatch.id),
        {
            "kind": kind.name,
            "source_system": options.source,
            "filename": (options.filename or "")[-500:] or None,
            "status": "running",
            "counts": {},
            "created_by": options.created_by,
            "file_sha256": sha,
            "file_size": size,
            "mapping_name": options.mapping_name,
            "options": batch_options,
            "dry_run": options.dry_run,
            "rows_done": 0,
            "owner": owner_id(),
            "heartbeat_at": utcnow(),
            "job_id": options.job_id,
        },
    ).scalar_one()
    return batch_id, 0, {}
