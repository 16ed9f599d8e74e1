"""The ``seed demo`` service: stream a realistic, reproducible demo base into the store.

Chunks are generated on one core while the previous one is written on the other (see
``pipeline``). On an empty store the plain indexes whose keys arrive in random order are dropped
first and rebuilt at the end; their DDL is kept on the run's ``import_batches`` row until then,
so a run that was killed is repaired by the next one (:func:`repair_interrupted`).
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine

from closedloop.db.bulk import BulkWriter, open_writer
from closedloop.demo.clock import Clock
from closedloop.demo.generate import Context, Ids
from closedloop.demo.locales import LOCALES
from closedloop.demo.pipeline import ProcessPipeline, ThreadPipeline
from closedloop.demo.pools import build_pools
from closedloop.demo.reference import create_campaign, ensure_attributes, ensure_products
from closedloop.demo.rows import TABLES
from closedloop.errors import Refused, ValidationFailed

CHUNK_SIZE = 5_000
PROCESS_THRESHOLD = 50_000
#: ``progress(phase, done, total)``; phases are "persons" then "indexes".
Progress = Callable[[str, int, int], None]
_BATCH_COLUMNS = ("id", "kind", "source_system", "status", "counts", "created_by", "started_at")
_SUSPENDED = "suspended_indexes"
#: Tables whose ``id`` the demo assigns itself (and whose sequences PostgreSQL must catch up).
ID_TABLES = (
    "import_batches", "households", "organisations", "persons", "emails", "phones",
    "addresses", "relationships", "identifiers", "attribute_definitions", "attribute_choices",
    "attribute_values", "consent_events", "suppressions", "product_categories", "products",
    "orders", "order_lines", "offers", "campaigns", "waves", "cells", "campaign_members",
    "communications", "responses", "duplicate_truth",
)  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def repair_interrupted(writer: BulkWriter) -> int:
    """Rebuild the indexes a killed demo run had dropped; mark that run failed."""
    rows = writer.query(
        "SELECT id, counts FROM import_batches WHERE kind = 'demo' AND status = 'running'"
    )
    repaired = 0
    for batch_id, counts in rows:
        doc = counts if isinstance(counts, dict) else json.loads(counts or "{}")
        writer.restore_indexes(doc.pop(_SUSPENDED, []))
        _finish(writer, int(batch_id), "failed", doc)
        repaired += 1
    return repaired


def seed_demo(
    engine: Engine,
    persons: int = 20_000,
    seed: int = 42,
    *,
    append: bool = False,
    today: date | None = None,
    chunk_size: int = CHUNK_SIZE,
    processes: bool | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Generate ``persons`` demo persons (plus planted duplicates) and their whole history.

    The schema must exist (``closedloop init``). The same ``seed`` and ``today`` give the same
    data on an empty store. A store that already has persons is refused unless ``append`` is
    set; new ids then follow the existing ones. Each chunk of persons is written in its own
    transaction and ``progress`` is called after each. ``processes`` chooses the process
    pipeline (default: on SQLite from 50,000 persons) or the thread pipeline. Returns the number
    of rows written per table, with ``import_batch_id`` and ``seconds``.
    """
    if persons < 1:
        raise ValidationFailed(
            "persons must be at least 1", errors=[{"field": "persons", "message": "must be >= 1"}]
        )
    started = time.perf_counter()
    report = progress or (lambda phase, done, total: None)
    writer = open_writer(engine)
    # Millions of short-lived row tuples make the cycle collector scan again and again for
    # nothing: the generator builds no reference cycles.
    collecting = gc.isenabled()
    gc.disable()
    # The driver releases the interpreter lock for every row; a short switch interval gives it
    # back quickly when the generator thread holds it (the default 5 ms starves the writer).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    batch_id = 0
    suspended: list[str] = []
    counts: Counter[str] = Counter()
    try:
        repair_interrupted(writer)
        existing = int(writer.query("SELECT COUNT(*) FROM persons")[0][0])
        if existing and not append:
            raise Refused(
                f"The database already has {existing:,} persons; seeding the demo would mix "
                "it with them. Use an empty database, or --append to add to it."
            )
        ids = Ids({table: writer.next_id(table) for table in ID_TABLES})
        clock = Clock(today or date.today())
        stamp = _now()
        batch_id = ids.take("import_batches", 1)
        if not existing:
            suspended = writer.suspend_indexes({t.split("|")[0] for t in TABLES})
        doc = json.dumps({_SUSPENDED: suspended})
        writer.stream("import_batches", _BATCH_COLUMNS, [
            (batch_id, "demo", "demo", "running", doc, "closedloop seed demo", stamp),
        ])  # fmt: skip
        definitions, choices = ensure_attributes(writer, ids, stamp)
        products = ensure_products(writer, ids, seed, batch_id, stamp)
        refs = create_campaign(writer, ids, clock, batch_id, persons)
        writer.commit()
        weights = np.array([spec.weight for spec in LOCALES])
        weights = np.cumsum(weights) / weights.sum()
        ctx = Context(
            seed=seed, clock=clock, pools=build_pools(seed), locale_cum=weights,
            products=products, campaign=refs, definitions=definitions, choices=choices,
            batch_id=batch_id,
        )  # fmt: skip
        sizes = [min(chunk_size, persons - start) for start in range(0, persons, chunk_size)]
        report("persons", 0, persons)
        if processes is None:
            processes = persons >= PROCESS_THRESHOLD
        processes = processes and writer.single_writer  # spools are attached SQLite files
        _stream(writer, ctx, ids, sizes, processes, counts, report)
        if suspended:
            report("indexes", 0, len(suspended))
            writer.restore_indexes(suspended)
            report("indexes", len(suspended), len(suspended))
            suspended = []
        summary = dict(sorted(counts.items()))
        _finish(writer, batch_id, "done", summary)
        writer.finish(ID_TABLES, analyze=("consent_current",))
    except BaseException:
        writer.rollback()
        if suspended:
            writer.restore_indexes(suspended)
        if batch_id:
            _finish(writer, batch_id, "failed", dict(counts))
        raise
    finally:
        writer.close()
        sys.setswitchinterval(interval)
        if collecting:
            gc.enable()
    summary["match_keys"] = _index_persons(engine, fresh=not existing, report=report)
    summary["import_batch_id"] = batch_id
    summary["seconds"] = round(time.perf_counter() - started)
    return summary


def _index_persons(engine: Engine, *, fresh: bool, report: Progress) -> int:
    """Build the online duplicate check's index (match keys) for the persons just written:
    the bulk writer bypasses ``person_saved``. Returns the number of key rows."""
    from closedloop.db.uow import session_factory, unit_of_work
    from closedloop.dedupe.indexing import index_missing, rebuild_index

    def progress(done: int, total: int) -> None:
        report("index", done, total)

    with unit_of_work(session_factory(engine)) as session:
        if fresh:
            _, keys = rebuild_index(session, progress)
        else:
            _, keys = index_missing(session, progress)
    return keys


def _stream(
    writer: BulkWriter,
    ctx: Context,
    ids: Ids,
    sizes: list[int],
    processes: bool,
    counts: Counter[str],
    report: Progress,
) -> None:
    """Write every chunk, each in its own transaction, while the next ones are generated."""
    first = ids.next["persons"]
    total, done = sum(sizes), 0
    with tempfile.TemporaryDirectory(prefix="closedloop-seed-") as folder:
        pipeline: ThreadPipeline | ProcessPipeline
        if processes:
            pipeline = ProcessPipeline(ctx, ids, sizes, first, folder)
        else:
            pipeline = ThreadPipeline(ctx, ids, sizes, first)
        try:
            for number, batch in enumerate(pipeline):
                batch.write(writer)
                writer.commit()
                counts.update(batch.counts)
                pipeline.done(batch)
                del batch
                done += sizes[number]
                report("persons", done, total)
        finally:
            pipeline.close()


def _finish(writer: BulkWriter, batch_id: int, status: str, counts: dict[str, Any]) -> None:
    """Record the outcome and the row counts on the run's import batch."""
    writer.execute(
        "UPDATE import_batches SET status = ?, counts = ?, finished_at = ? WHERE id = ?",
        (status, json.dumps(counts), _now(), batch_id),
    )
    writer.commit()
