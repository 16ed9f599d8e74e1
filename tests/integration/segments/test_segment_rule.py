"""``{"segment": id}``: a member of another segment (its rule now, or its snapshot), so
segments combine; a cycle is refused naming the rule path and the chain; members paged by the
database; the CLI, the published schema, and a snapshot's page listing its members."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.web.conftest import login
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.db.uow import unit_of_work
from closedloop.errors import Conflict, ValidationFailed
from closedloop.segments import (
    count,
    create_segment,
    delete_segment,
    freeze_members,
    member_page,
    rule_schema,
    update_segment,
)

from .world import TODAY, consent, person

WOMEN = {"field": "gender", "op": "eq", "value": "f"}


def _base(factory: sessionmaker[Session]) -> tuple[list[int], int, int]:
    """Six persons (four women), a dynamic segment of women and a snapshot of two ids."""
    with unit_of_work(factory) as s:
        ids = [person(s, given_name=f"P{i}", gender="f" if i < 4 else "m") for i in range(6)]
        consent(s, ids[0])
        women = create_segment(s, "Women", WOMEN).id
        frozen = freeze_members(s, "Frozen", [ids[1], ids[4]], {"source": "test"}).id
    return ids, women, frozen


def test_segments_combine_and_cycles_are_refused(factory: sessionmaker[Session]) -> None:
    _ids, women, frozen = _base(factory)
    with unit_of_work(factory) as s:
        rule = {"all": [{"segment": women}, {"not": {"segment": frozen}}]}
        assert count(s, rule, today=TODAY) == 3  # women less P1
        assert count(s, {"any": [{"segment": women}, {"segment": frozen}]}, today=TODAY) == 5
        mixed = create_segment(s, "Women not frozen", rule).id
        assert count(s, {"segment": mixed}, today=TODAY) == 3

        # Women may not come to depend on a segment that depends on it.
        with pytest.raises(ValidationFailed) as refused:
            update_segment(s, women, rules={"all": [WOMEN, {"segment": mixed}]})
        (error,) = refused.value.errors
        assert error["field"] == "all[1].segment"
        assert "refers back to itself" in error["message"]
        assert (
            f"segment {women} → segment {mixed} (Women not frozen) → segment {women}"
            in (error["message"])
        )
        with pytest.raises(ValidationFailed) as itself:
            update_segment(s, women, rules={"any": [{"segment": women}]})
        assert itself.value.errors[0]["field"] == "any[0].segment"

        with pytest.raises(ValidationFailed) as unknown:
            count(s, {"all": [WOMEN, {"segment": 999_999}]})
        assert unknown.value.errors == [
            {"field": "all[1].segment", "message": "there is no segment 999999"}
        ]
        with pytest.raises(ValidationFailed) as typed:
            count(s, {"segment": "Women"})
        assert typed.value.errors[0]["field"] == "segment"
        with pytest.raises(Conflict, match="used by the rule of: Women not frozen"):
            delete_segment(s, women)


def test_members_are_paged_by_the_database(factory: sessionmaker[Session]) -> None:
    ids, women, frozen = _base(factory)
    with factory() as s:
        assert member_page(s, women, limit=2, offset=1) == ([ids[1], ids[2]], 4)
        assert member_page(s, women, limit=10, offset=3) == ([ids[3]], 4)
        assert member_page(s, frozen, limit=1, offset=1) == ([ids[4]], 2)
        assert member_page(s, frozen, limit=5, offset=9) == ([], 2)


def test_schema_cli_and_snapshot_page(
    factory: sessionmaker[Session], tmp_path: Path, client: TestClient,
    make_user: Callable[..., str],
) -> None:  # fmt: skip
    ids, women, frozen = _base(factory)
    schema = json.dumps(rule_schema())
    assert '"segment"' in schema and "SegmentRule" in schema

    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"all": [{"segment": women}, {"segment": frozen}]}))
    out = CliRunner().invoke(app, ["segments", "count", "--rules", str(rules), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"count": 1}
    rules.write_text(json.dumps({"segment": 424242}))
    out = CliRunner().invoke(app, ["segments", "count", "--rules", str(rules)])
    assert out.exit_code == 1 and "there is no segment 424242" in " ".join(out.output.split())

    assert login(client, make_user("mia", "marketer")).status_code == 303
    page = client.get(f"/segments/{frozen}")
    assert page.status_code == 200
    assert 'href="/persons/' + str(ids[1]) + '">P1<' in page.text
    assert 'href="/persons/' + str(ids[4]) + '">P4<' in page.text
    builder = client.get("/segments/new").text
    assert "Member of a segment" in builder
