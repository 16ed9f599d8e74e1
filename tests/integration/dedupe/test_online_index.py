"""The online index in bulk: prepared records stored next to the keys, the ``dedupe.index``
job queued by ``persons_imported``, ``closedloop dedupe index``, and lazy heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import Email, Person
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.dedupe.keys import prepare_chunk, prepare_one, profile_from, profile_json
from closedloop.dedupe.models import DuplicateCandidate, PersonMatchKey, PersonMatchRecord
from closedloop.dedupe.online import find_candidates
from closedloop.dedupe.store import records_for
from closedloop.hookspecs import pm
from closedloop.jobs.models import Job
from closedloop.jobs.service import run_pending

runner = CliRunner()
RECORDS: list[dict[str, Any]] = [
    {"record_id": "1", "given_name": "Ştefan", "family_name": "Popescu", "birth_date": "1980-02-29",
     "email": "S.Pop+news@Example.ro", "phone": "+40712345678", "street": "Str. Lipscani 10",
     "postal_code": "030031", "locality": "Bucureşti", "customer_number": "C-0042"},
    {"record_id": "2", "given_name": "王", "family_name": "伟", "birth_date": None},
    {"record_id": "3", "given_name": "Bill", "family_name": "O'Neil", "street": "12 bis Main St"},
]  # fmt: skip


def test_stored_records_and_bulk_preparation_equal_prepare_one() -> None:
    bulk = prepare_chunk(RECORDS)
    for record, prepared in zip(RECORDS, bulk, strict=True):
        one = prepare_one(record)
        back = profile_from(int(record["record_id"]), profile_json(one))
        assert {k: v for k, v in back.items() if v is not None} == {
            k: v for k, v in one.items() if v is not None}  # fmt: skip
        assert {k: v for k, v in prepared.items() if v is not None} == {
            k: v for k, v in one.items() if v is not None}  # fmt: skip


def _bulk_insert(factory: sessionmaker[Session], rows: list[tuple[str, str, str]]) -> list[int]:
    """Persons written as a bulk writer does: no ``person_saved``, so no keys yet."""
    with unit_of_work(factory) as s:
        ids = []
        for given, family, email in rows:
            pid = s.scalar(insert(Person).returning(Person.id), {
                "given_name": given, "family_name": family, "given_key": given.lower(),
                "family_key": family.lower(), "version": 1})  # fmt: skip
            s.execute(insert(Email), [{"person_id": pid, "address": email,
                                       "address_key": email, "is_primary": True}])  # fmt: skip
            ids.append(int(pid))  # type: ignore[arg-type]
        return ids


def test_persons_imported_queues_one_index_job_that_finds_duplicates(
    factory: sessionmaker[Session], engine: Engine
) -> None:
    with unit_of_work(factory) as s:
        stored = contacts_service.create_person(s, PersonCreate.model_validate(
            {"given_name": "Jean", "family_name": "Dupont", "birth_date": "1971-03-14",
             "emails": [{"address": "jean.dupont@example.com"}]})).id  # fmt: skip
    ids = _bulk_insert(factory, [("Jean", "Dupond", "jean.dupont@example.com"),
                                 ("Ana", "Pop", "ana@example.ro"),
                                 ("Ana", "Popp", "ana@example.ro")])  # fmt: skip
    with unit_of_work(factory) as s:
        assert s.scalar(select(func.count()).select_from(PersonMatchRecord)) == 1
        pm.hook.persons_imported(session=s, person_ids=ids, batch_id=7)
        pm.hook.persons_imported(session=s, person_ids=[], batch_id=8)  # nothing to do
    with unit_of_work(factory) as s:
        jobs = s.scalars(select(Job).where(Job.kind == "dedupe.index")).all()
        assert [(j.payload["person_ids"], j.payload["batch_id"]) for j in jobs] == [(ids, 7)]
    assert run_pending(engine, kinds=["dedupe.index"]) == 1
    with unit_of_work(factory) as s:
        job = s.scalars(select(Job).where(Job.kind == "dedupe.index")).one()
        assert job.status == "done", job.error
        assert job.result is not None and job.result["persons"] == 3
        indexed = set(s.scalars(select(PersonMatchRecord.person_id)))
        assert indexed == {stored, *ids}
        pairs = {(c.person_l_id, c.person_r_id, c.origin) for c in s.scalars(
            select(DuplicateCandidate))}  # fmt: skip
        assert pairs == {(stored, ids[0], "online"), (ids[1], ids[2], "online")}
        # The keys are those the per-person path writes: a check finds the same candidates.
        assert [c.person_id for c in find_candidates(s, ids[0])] == [stored]


def test_an_index_job_with_bad_input_fails_at_once(
    factory: sessionmaker[Session], engine: Engine
) -> None:
    from closedloop.jobs.service import enqueue

    with unit_of_work(factory) as s:
        enqueue(s, "dedupe.index", {"person_ids": "all"})
    run_pending(engine, kinds=["dedupe.index"])
    with unit_of_work(factory) as s:
        job = s.scalars(select(Job)).one()
        assert job.status == "failed" and job.attempts == 1
        assert "person_ids" in (job.error or "")


def test_cli_index_adds_missing_persons_then_rebuilds_all(
    factory: sessionmaker[Session],
) -> None:
    ids = _bulk_insert(factory, [("Jean", "Dupont", "jd@example.com"),
                                 ("Ana", "Pop", "ana@example.ro")])  # fmt: skip
    first = runner.invoke(app, ["dedupe", "index", "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["persons"] == 2 and report["indexed"] == 2 and report["rebuilt"] is False
    again = json.loads(runner.invoke(app, ["dedupe", "index", "--json"]).stdout)
    assert again["persons"] == 0 and again["match_keys"] == 0  # nothing missing any more
    with unit_of_work(factory) as s:
        before = sorted(s.execute(select(PersonMatchKey.person_id, PersonMatchKey.key_kind,
                                         PersonMatchKey.key_value)).all())  # fmt: skip
        wanted = records_for(s, ids)
    full = runner.invoke(app, ["dedupe", "index", "--all"])
    assert full.exit_code == 0, full.output
    assert "rebuilt for 2 person(s)" in full.stdout
    with unit_of_work(factory) as s:
        after = sorted(s.execute(select(PersonMatchKey.person_id, PersonMatchKey.key_kind,
                                        PersonMatchKey.key_value)).all())  # fmt: skip
        stored = {r.person_id: r.data for r in s.scalars(select(PersonMatchRecord))}
    assert after == before and len(after) > 0
    assert stored == {int(r["record_id"]): profile_json(prepare_one(r)) for r in wanted}


def test_the_quality_plugin_and_the_online_check_import_no_heavy_library() -> None:
    # Other domains' hooks are theirs to keep light: this checks the quality domain's part
    # of every process (its hooks, job handlers, the online check and the bulk index).
    code = (
        "import sys; import closedloop.dedupe.hooks as h; h.job_handlers(); "
        "import closedloop.dedupe.online, closedloop.dedupe.indexing, closedloop.dedupe.jobs; "
        "print(sorted(m for m in ('splink', 'duckdb', 'pypinyin', 'pandas', 'numpy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
