"""Propensity on a seeded demo base: the model beats random out of time, ranks, freezes a
segment; through the service and the CLI."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.demo.seed import seed_demo
from closedloop.errors import ValidationFailed
from closedloop.segments import SegmentMember
from closedloop.segments.service import get_segment
from closedloop.targeting import propensity, propensity_segment
from closedloop.transactions.models import ProductCategory

TODAY = date(2026, 11, 22)
runner = CliRunner()


def _biggest_category(session: Session) -> str:
    """The top category with most products (the demo's catalogue decides, not the test)."""
    from closedloop.transactions.models import Product

    parent = select(ProductCategory.id, ProductCategory.parent_id).subquery()
    stmt = (
        select(ProductCategory.code, func.count(Product.id))
        .join(parent, parent.c.parent_id == ProductCategory.id)
        .join(Product, Product.category_id == parent.c.id)
        .where(ProductCategory.parent_id.is_(None))
        .group_by(ProductCategory.code)
        .order_by(func.count(Product.id).desc())
    )
    return str(session.execute(stmt).first()[0])  # type: ignore[index]


def test_propensity_beats_random_and_freezes_a_segment(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    seed_demo(engine, 3000, 11, today=TODAY)
    with factory() as session:
        category = _biggest_category(session)
        result = propensity(session, category, horizon_days=180)
        assert result.auc > 0.6, result.as_dict()
        assert result.deciles[0]["lift"] > 1.5 > result.deciles[-1]["lift"]
        scores = [s for _, s in result.ranking]
        assert scores == sorted(scores, reverse=True) and len(scores) == result.persons
        made = propensity_segment(session, result, "likely", top=100)
        session.commit()
        assert get_segment(session, made["id"]).name == "likely"
        members = set(
            session.scalars(
                select(SegmentMember.person_id).where(SegmentMember.segment_id == made["id"])
            )
        )
        assert made["members"] == 100 and members == {p for p, _ in result.ranking[:100]}
        with pytest.raises(ValidationFailed, match="Unknown category 'nope'"):
            propensity(session, "nope")

    out = runner.invoke(
        app,
        [
            "targeting",
            "propensity",
            "--category",
            category,
            "--top",
            "50",
            "--segment",
            "cli-likely",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["auc"] > 0.6 and data["segment"]["name"] == "cli-likely"
    assert data["segment"]["members"] == 50
    assert len(data["lift_by_decile"]) == 10 and len(data["calibration"]) == 10
    bad = runner.invoke(app, ["targeting", "propensity", "--category", category, "--top", "5"])
    assert bad.exit_code == 1 and "name it with --segment" in " ".join(bad.stderr.split())


def test_recommendations_beat_popularity_and_skip_owned(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    from closedloop.targeting.baskets import read_histories
    from closedloop.targeting.recommend import evaluate, recommend

    seed_demo(engine, 1500, 5, today=TODAY)
    with factory() as session:
        scores = evaluate(session, k=5)
        assert scores["persons"] > 100
        assert scores["model"]["hit_rate"] > scores["popularity"]["hit_rate"], scores
        history = read_histories(session).as_dict()
        person = next(p for p, items in history.items() if len(items) >= 3)
        recs = recommend(session, person, 5)
        assert len(recs) == 5 and not {r["product_id"] for r in recs} & set(history[person])
    out = runner.invoke(app, ["targeting", "recommend", "--evaluate", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["model"] == scores["model"]
    missing = runner.invoke(app, ["targeting", "recommend", "999999"])
    assert missing.exit_code == 1 and "Person 999999 does not exist" in missing.stderr


def test_clusters_are_named_and_one_becomes_a_segment(engine: Engine) -> None:
    seed_demo(engine, 800, 3, today=TODAY)
    out = runner.invoke(
        app, ["targeting", "clusters", "--json", "--cluster", "1", "--segment", "cluster-one"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert 2 <= data["k"] <= 8 and str(data["k"]) in data["silhouette"]
    sizes = [c["persons"] for c in data["clusters"]]
    assert sum(sizes) == data["buyers"] and sizes == sorted(sizes, reverse=True)
    assert all(c["name"].endswith("buyers") for c in data["clusters"])
    assert data["segment"]["members"] == sizes[0]
    bad = runner.invoke(app, ["targeting", "clusters", "--k", "40"])
    assert bad.exit_code == 1 and "between 2 and 12" in bad.stderr


def test_markets_and_segment_comparison(engine: Engine, factory: sessionmaker[Session]) -> None:
    seed_demo(engine, 800, 4, today=TODAY)
    with factory() as session:
        category = _biggest_category(session)
    out = runner.invoke(app, ["targeting", "markets", "--category", category, "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert sum(r["persons"] for r in rows) >= 800
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert rows[0]["score"] > 0 and 0 < rows[0]["reachability"] <= 1
    clusters = json.loads(
        runner.invoke(app, ["targeting", "clusters", "--k", "2", "--json"]).stdout
    )
    for n in (1, 2):
        made = runner.invoke(app, ["targeting", "clusters", "--k", "2", "--cluster", str(n),
                                   "--segment", f"c{n}"])  # fmt: skip
        assert made.exit_code == 0, made.output
    cmp = runner.invoke(app, ["targeting", "compare", "c1", "c2", "--json"])
    assert cmp.exit_code == 0, cmp.output
    data = json.loads(cmp.stdout)
    assert data["first"]["persons"] == clusters["clusters"][0]["persons"]
    # Two k-means clusters differ: at least one feature shows a large effect.
    assert any(r["effect"] == "large" for r in data["features"]), data
    missing = runner.invoke(app, ["targeting", "compare", "c1", "nope"])
    assert missing.exit_code == 1 and "Segment nope does not exist" in missing.stderr
