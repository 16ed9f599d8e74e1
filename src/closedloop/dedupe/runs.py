"""``dedupe run``: the batch engine over the store, its results stored, high pairs merged.

Steps: read golden persons (streamed) → :func:`run_batch` at the review threshold →
store the model (a new version) → rebuild the online index → store the pairs → merge the
clusters of pairs at or above the threshold → store clusters with stable ids.
"""

from __future__ import annotations

import csv
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from closedloop.contacts.models import Person
from closedloop.db.base import utcnow
from closedloop.db.uow import unit_of_work
from closedloop.dedupe.candidates import upsert
from closedloop.dedupe.engine.batch import BatchResult, cluster_pairs, level_label, run_batch
from closedloop.dedupe.engine.rules import RULE_STEP
from closedloop.dedupe.keys import refresh_keys, write_keys
from closedloop.dedupe.merge import merge_persons, pair_key
from closedloop.dedupe.model_store import save_model
from closedloop.dedupe.models import (
    DedupeCluster,
    DedupeClusterMember,
    DuplicateCandidate,
    PersonMatchKey,
    PersonMatchRecord,
)
from closedloop.dedupe.said import RUN_DONE
from closedloop.dedupe.settings import get_dedupe_settings
from closedloop.dedupe.store import read_persons_frame
from closedloop.dedupe.survivorship import Policy
from closedloop.errors import DomainError, ValidationFailed, failure_message
from closedloop.jobs.models import Job
from closedloop.vocab import JobStatus

log = logging.getLogger(__name__)

#: ``progress(phase, done, total)``; total 0 when unknown.
Progress = Callable[[str, int, int], None]
JOB_KIND = "dedupe.run"


@dataclass
class RunReport:
    """What a run did (also the job's result)."""

    persons: int = 0
    model_version: int | None = None
    pairs: int = 0
    pending: int = 0
    auto_merged_pairs: int = 0
    merges: int = 0
    merges_refused: list[str] = field(default_factory=list)
    clusters: int = 0
    clusters_kept: int = 0
    household_pairs: int = 0
    #: pairs a deterministic rule links (a shared identifier), merged whatever the model says
    rule_pairs: int = 0
    #: identifier values too common to link anyone ("national_id=000000000" → records)
    placeholders: dict[str, int] = field(default_factory=dict)
    #: the training guard's findings (a degenerate training is not used)
    training_warnings: list[str] = field(default_factory=list)
    match_keys: int = 0
    threshold: float = 0.0
    review_threshold: float = 0.0
    #: link-only mode: pairs across sources only, one record per source in a cluster
    link_only: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    job_id: int | None = None


def explanation(result: BatchResult, row: Any) -> list[dict[str, Any]]:
    """A predicted pair's waterfall from its row: the deterministic rule that links it, if
    any (no bits: it decides), the prior, then each comparison."""
    steps: list[dict[str, Any]] = []
    if getattr(row, "rule", None) is not None:
        steps.append({"comparison": RULE_STEP, "level": row.rule, "weight": 0.0})
    steps.append({"comparison": "prior", "level": "", "weight": result.prior_weight})
    for comparison in result.model.settings["comparisons"]:
        name = comparison["output_column_name"]
        gamma = int(getattr(row, f"gamma_{name}"))
        steps.append(
            {
                "comparison": name,
                "level": level_label(comparison, gamma),
                "weight": float(getattr(row, f"mw_{name}")),
            }
        )
    return steps


def _decisions(session: Session) -> dict[tuple[int, int], str]:
    rows = session.execute(
        select(
            DuplicateCandidate.person_l_id,
            DuplicateCandidate.person_r_id,
            DuplicateCandidate.status,
        ).where(DuplicateCandidate.status.in_(("rejected", "not_duplicate")))
    ).all()
    return {(int(a), int(b)): s for a, b, s in rows}


def _rebuild_index(session: Session, prepared: pd.DataFrame, progress: Progress) -> int:
    session.execute(delete(PersonMatchKey))
    session.execute(delete(PersonMatchRecord))
    total = 0
    n = len(prepared)
    clean = prepared.astype(object).where(prepared.notna(), None)
    for start in range(0, n, 50_000):
        total += write_keys(session, clean.iloc[start : start + 50_000].to_dict("records"))
        progress("index", min(start + 50_000, n), n)
    return total


def _merge_clusters(
    session: Session,
    result: BatchResult,
    strong: pd.DataFrame,
    candidate_ids: dict[tuple[int, int], int],
    report: RunReport,
    merged_by: str,
    progress: Progress,
    checkpoint: Callable[[], None],
) -> None:
    ids = sorted(set(strong.unique_id_l) | set(strong.unique_id_r))
    clusters, _refused = cluster_pairs(
        ids,
        strong,
        result.records,
        one_per_source=report.link_only,
        source_sizes=result.source_sizes,
    )
    groups: dict[str, list[int]] = defaultdict(list)
    for uid, cid in zip(clusters.unique_id, clusters.cluster_id, strict=True):
        groups[cid].append(int(uid))
    multi = [sorted(g) for g in groups.values() if len(g) > 1]
    policy = Policy.from_settings()
    in_cluster = {pid: i for i, g in enumerate(multi) for pid in g}
    stale: list[int] = []  # golden records whose online keys are refreshed together

    def save() -> None:
        refresh_keys(session, stale)
        stale.clear()
        checkpoint()

    for done, group in enumerate(multi, 1):
        people = [session.get(Person, pid) for pid in group]
        alive = [p for p in people if p is not None and p.merged_into_id is None]
        if len(alive) < 2:
            continue
        golden = min(alive, key=lambda p: (policy.trust(p.source_system), p.id))
        others = [p for p in alive if p.id != golden.id]
        stale.append(golden.id)
        for position, person in enumerate(others, 1):
            cand = candidate_ids.get(pair_key(golden.id, person.id))
            try:
                with session.begin_nested():
                    event = merge_persons(
                        session,
                        golden.id,
                        person.id,
                        reason="auto",
                        merged_by=merged_by,
                        candidate_id=cand,
                        policy=policy,
                        # the keys a next merge's event keeps must be fresh; the last waits
                        refresh_index=position < len(others),
                    )
            except DomainError as exc:
                report.merges_refused.append(exc.detail)
                continue
            report.merges += 1
            for l_id, r_id in _pairs_touching(strong, person.id, in_cluster):
                cid = candidate_ids.get((l_id, r_id))
                if cid is None:
                    continue
                row = session.get(DuplicateCandidate, cid)
                if row is not None and row.status == "pending":
                    row.status = "auto_merged"
                    row.merge_event_id = event.id
                    row.decided_by = merged_by
                    row.decided_at = utcnow()
                    report.auto_merged_pairs += 1
        if done % 100 == 0:
            save()
            progress("merge", done, len(multi))
    save()
    progress("merge", len(multi), len(multi))


def _pairs_touching(
    strong: pd.DataFrame, person_id: int, in_cluster: dict[int, int]
) -> list[tuple[int, int]]:
    mask = (strong.unique_id_l == str(person_id)) | (strong.unique_id_r == str(person_id))
    out = []
    for a, b in zip(strong.unique_id_l[mask], strong.unique_id_r[mask], strict=True):
        x, y = int(a), int(b)
        if in_cluster.get(x) is not None and in_cluster.get(x) == in_cluster.get(y):
            out.append(pair_key(x, y))
    return out


def store_clusters(session: Session, groups: list[set[int]], job_id: int | None) -> tuple[int, int]:
    """Replace the stored clusters by ``groups``, each keeping the id of the old cluster it
    shares most members with (one old id per new group). Returns (clusters, ids kept)."""
    old: dict[int, int] = {
        int(pid): int(cid)
        for pid, cid in session.execute(
            select(DedupeClusterMember.person_id, DedupeClusterMember.cluster_id)
        ).all()
    }
    offers: list[tuple[int, int, int]] = []
    for index, group in enumerate(groups):
        counts: dict[int, int] = defaultdict(int)
        for pid in group:
            if pid in old:
                counts[old[pid]] += 1
        offers.extend((-n, cid, index) for cid, n in counts.items())
    offers.sort()
    assigned: dict[int, int] = {}
    used: set[int] = set()
    for _neg, cid, index in offers:
        if index not in assigned and cid not in used:
            assigned[index] = cid
            used.add(cid)
    session.execute(delete(DedupeClusterMember))
    stale = set(old.values()) - used
    if stale:
        session.execute(delete(DedupeCluster).where(DedupeCluster.id.in_(stale)))
    now = utcnow()
    for index, cid in assigned.items():
        cluster = session.get(DedupeCluster, cid)
        if cluster is not None:
            cluster.size, cluster.job_id, cluster.updated_at = len(groups[index]), job_id, now
    fresh = [i for i in range(len(groups)) if i not in assigned]
    if fresh:
        new_ids = session.scalars(
            insert(DedupeCluster).returning(DedupeCluster.id, sort_by_parameter_order=True),
            [{"size": len(groups[i]), "job_id": job_id, "updated_at": now} for i in fresh],
        ).all()
        assigned.update(zip(fresh, (int(x) for x in new_ids), strict=True))
    rows = [
        {"person_id": pid, "cluster_id": assigned[i]} for i, g in enumerate(groups) for pid in g
    ]
    if rows:
        session.execute(insert(DedupeClusterMember), rows)
    session.flush()
    return len(groups), len(used)


def _groups(
    session: Session,
    result: BatchResult,
    edges: pd.DataFrame,
    link_only: bool = False,
) -> list[set[int]]:
    """The clusters to store: each merged family (a golden record with every record ever
    merged into it) is one group from the start, and the run's kept pairs join groups under
    the engine's cluster guard. A partition: every person is in at most one cluster, however
    the pairs overlap (FEBRL-like chains, or pairs with records merged since)."""
    merged = session.execute(
        select(Person.id, Person.merged_into_id).where(Person.merged_into_id.is_not(None))
    ).all()
    parent = {int(a): int(b) for a, b in merged if b is not None}

    def root(pid: int) -> int:
        seen: set[int] = set()
        while pid in parent and pid not in seen:
            seen.add(pid)
            pid = parent[pid]
        return pid

    families: dict[int, list[str]] = defaultdict(list)
    for pid in parent:
        families[root(pid)].append(str(pid))
    joined = [[str(head), *members] for head, members in families.items()]
    ids = sorted(set(edges.unique_id_l) | set(edges.unique_id_r) | {i for g in joined for i in g})
    if not ids:
        return []
    clusters, _ = cluster_pairs(
        ids,
        edges,
        result.records,
        joined=joined,
        one_per_source=link_only,
        source_sizes=result.source_sizes,
    )
    groups: dict[str, set[int]] = defaultdict(set)
    for uid, cid in zip(clusters.unique_id, clusters.cluster_id, strict=True):
        groups[cid].add(int(uid))
    return [g for g in groups.values() if len(g) > 1]


def run_dedupe(
    session: Session,
    *,
    threshold: float | None = None,
    review_threshold: float | None = None,
    merge: bool = True,
    link_only: bool = False,
    merged_by: str = "dedupe",
    job_id: int | None = None,
    progress: Progress | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> RunReport:
    """Deduplicate the whole base (see the module text); returns what was done.

    ``checkpoint`` is called once the model and pairs are stored and every hundred merged
    clusters: a caller that commits there keeps the merges already decided when a later
    step fails (the next run then starts from them).

    ``link_only``: the base holds sources each clean within itself (each person's
    ``source_system``): only pairs of persons from different sources are proposed, and a
    cluster holds at most one person of each source (see ``docs/concepts/identity-resolution.md``).
    """
    save_point = checkpoint or (lambda: None)
    settings = get_dedupe_settings()
    upper = settings.threshold if threshold is None else threshold
    lower = settings.review_threshold if review_threshold is None else review_threshold
    if not 0 < lower <= upper < 1:
        raise ValidationFailed(
            "Thresholds must satisfy 0 < review threshold <= threshold < 1.",
            errors=[{"field": "review_threshold", "message": f"{lower} > {upper}"}],
        )
    report_progress = progress or (lambda phase, done, total: None)
    report = RunReport(threshold=upper, review_threshold=lower, job_id=job_id, link_only=link_only)
    t0 = time.perf_counter()
    frame = read_persons_frame(session, progress=lambda n: report_progress("read", n, 0))
    report.persons = len(frame)
    report.seconds["read"] = time.perf_counter() - t0
    if len(frame) < 2:
        return report
    report_progress("dedupe", 0, 0)
    t = time.perf_counter()
    try:
        result = run_batch(
            frame.drop(columns=["phone_line_type"], errors="ignore"),
            threshold=lower,
            link_only=link_only,
        )
    except ValueError as exc:
        if not link_only:
            raise
        raise ValidationFailed(
            f"Link-only mode cannot run: {exc}.",
            errors=[{"field": "link_only", "message": str(exc)}],
        ) from exc
    report.seconds["engine"] = time.perf_counter() - t
    result.model.threshold = upper
    record = save_model(
        session,
        result.model,
        threshold=upper,
        review_threshold=lower,
        prepared=result.prepared,
        job_id=job_id,
    )
    report.model_version = record.version
    report.training_warnings = list(result.model.training.warnings)

    t = time.perf_counter()
    assert result.prepared is not None
    report.match_keys = _rebuild_index(session, result.prepared, report_progress)
    report.seconds["index"] = time.perf_counter() - t

    t = time.perf_counter()
    decided = _decisions(session)
    conflicts = {
        pair_key(int(a), int(b))
        for a, b in zip(result.households.unique_id_l, result.households.unique_id_r, strict=True)
    }
    report.household_pairs = len(conflicts)
    pairs = result.pairs
    candidate_ids: dict[tuple[int, int], int] = {}
    keep: list[bool] = []
    for done, row in enumerate(pairs.itertuples(index=False), 1):
        key = pair_key(int(row.unique_id_l), int(row.unique_id_r))
        if key in conflicts or decided.get(key) == "not_duplicate":
            keep.append(False)
            if key in conflicts:
                session.execute(
                    delete(DuplicateCandidate).where(
                        DuplicateCandidate.person_l_id == key[0],
                        DuplicateCandidate.person_r_id == key[1],
                        DuplicateCandidate.status == "pending",
                    )
                )
            continue
        cand = upsert(
            session,
            key[0],
            key[1],
            weight=float(row.match_weight),
            probability=float(row.match_probability),
            explanation=explanation(result, row),
            origin="batch",
            model_id=record.id,
        )
        keep.append(cand is not None and cand.status not in ("rejected", "not_duplicate"))
        if done % 1000 == 0:
            session.flush()
            report_progress("store", done, len(pairs))
    session.flush()
    for row_id, l_id, r_id in session.execute(
        select(
            DuplicateCandidate.id, DuplicateCandidate.person_l_id, DuplicateCandidate.person_r_id
        )
    ).all():
        candidate_ids[(int(l_id), int(r_id))] = int(row_id)
    report.pairs = len(pairs)
    report.rule_pairs = int(pairs["rule"].notna().sum()) if len(pairs) else 0
    report.placeholders = dict(result.placeholders)
    report.seconds["store"] = time.perf_counter() - t
    save_point()

    accepted = pairs[pd.Series(keep, index=pairs.index, dtype=bool)] if len(pairs) else pairs
    t = time.perf_counter()
    if merge and len(accepted):
        strong = accepted[accepted.match_probability >= upper]
        _merge_clusters(
            session, result, strong, candidate_ids, report, merged_by, report_progress, save_point
        )
        session.flush()
    report.seconds["merge"] = time.perf_counter() - t

    t = time.perf_counter()
    groups = _groups(session, result, accepted, link_only)
    report.clusters, report.clusters_kept = store_clusters(session, groups, job_id)
    report.pending = int(
        session.scalar(select(func.count()).where(DuplicateCandidate.status == "pending")) or 0
    )
    report.seconds["clusters"] = time.perf_counter() - t
    report.seconds["total"] = time.perf_counter() - t0
    return report


def run_dedupe_job(
    factory: sessionmaker[Session],
    *,
    created_by: str | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> RunReport:
    """Run :func:`run_dedupe` as a durable job: a ``jobs`` row (kind ``dedupe.run``) is
    committed first; the stored pairs and the merges are committed as they are done (a
    failure keeps them), the clusters and the job's end together; a failure is written to the
    job before it is raised again."""
    with unit_of_work(factory) as session:
        job = Job(
            kind=JOB_KIND,
            status=JobStatus.RUNNING.value,
            payload={k: v for k, v in options.items() if v is not None},
            created_by=created_by,
            started_at=utcnow(),
            attempts=1,
            progress=0.0,
        )
        session.add(job)
        session.flush()
        job_id = job.id
    try:
        with unit_of_work(factory) as session:
            report = run_dedupe(
                session, job_id=job_id, progress=progress, checkpoint=session.commit, **options
            )
            done = session.get(Job, job_id)
            assert done is not None
            done.status, done.progress = JobStatus.DONE.value, 1.0
            done.result, done.finished_at = asdict(report), utcnow()
            done.message = RUN_DONE(merges=report.merges, pending=report.pending)
        return report
    except BaseException as exc:
        if not isinstance(exc, DomainError):
            log.exception("Duplicate search %s failed", job_id)
        with unit_of_work(factory) as session:
            failed = session.get(Job, job_id)
            if failed is not None:
                failed.status, failed.finished_at = JobStatus.FAILED.value, utcnow()
                failed.error = failure_message(exc)
        raise


def export_pairs(session: Session, path: str | Path) -> int:
    """Write every predicted pair as CSV (both persons' source system and external id, the
    match probability and weight, the status); returns the number of pairs written."""
    left, right = aliased(Person), aliased(Person)
    stmt = (
        select(
            DuplicateCandidate.id,
            left.id,
            left.source_system,
            left.external_id,
            right.id,
            right.source_system,
            right.external_id,
            DuplicateCandidate.match_probability,
            DuplicateCandidate.match_weight,
            DuplicateCandidate.status,
            DuplicateCandidate.origin,
        )
        .join(left, DuplicateCandidate.person_l_id == left.id)
        .join(right, DuplicateCandidate.person_r_id == right.id)
        .order_by(DuplicateCandidate.id)
    )
    header = (
        "pair_id", "person_id_l", "source_system_l", "external_id_l", "person_id_r",
        "source_system_r", "external_id_r", "match_probability", "match_weight", "status",
        "origin",
    )  # fmt: skip
    count = 0
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in session.execute(stmt.execution_options(yield_per=10_000)):
            values = list(row)
            values[7] = f"{values[7]:.6f}"
            values[8] = f"{values[8]:.4f}"
            writer.writerow(["" if v is None else v for v in values])
            count += 1
    return count


__all__ = ["RunReport", "export_pairs", "run_dedupe", "run_dedupe_job"]
