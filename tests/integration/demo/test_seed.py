"""``closedloop seed demo`` on a real store: what a user checks in the generated base.

The CLI, reproducibility and repair tests come first and use the ``store`` fixture (emptied
after each test); the checks of a 2,000-person base then share one seeded store (``base``) for
the rest of the module, so keep new tests of the first kind above the ``base`` fixture.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import phonenumbers
import pytest
from email_validator import validate_email
from rapidfuzz import fuzz
from sqlalchemy import Engine, inspect, text
from typer.testing import CliRunner

from closedloop.bootstrap import metadata
from closedloop.cli.main import app
from closedloop.db.bulk import open_writer
from closedloop.demo import seed_demo
from closedloop.demo.places import places_by_country
from closedloop.errors import Refused

TODAY = date(2026, 11, 22)
PERSONS = 2000
CJK = re.compile(r"[\u4e00-\u9fff]")
POSTAL = {
    "FR": r"\d{5}", "DE": r"\d{5}", "ES": r"\d{5}", "US": r"\d{5}", "RO": r"\d{6}",
    "CN": r"\d{6}", "GB": r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}",
}  # fmt: skip
COUNTRY_OF_LANGUAGE = {"fr": {"FR"}, "de": {"DE"}, "es": {"ES"}, "ro": {"RO"}, "zh": {"CN"},
                       "en": {"GB", "US"}}  # fmt: skip


def _empty(engine: Engine) -> None:
    tables = [t.name for t in reversed(metadata().sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            # The category tree refers to itself with RESTRICT: cut it before deleting.
            conn.execute(text("UPDATE product_categories SET parent_id = NULL"))
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture()
def store(engine: Engine) -> Iterator[Engine]:
    """The test store, emptied in an order the demo's category tree allows."""
    yield engine
    _empty(engine)


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def _one(engine: Engine, sql: str, **params: Any) -> Any:
    return _rows(engine, sql, **params)[0][0]


def _digest(engine: Engine) -> str:
    persons = _rows(
        engine,
        "SELECT id, given_name, family_name, birth_date, lifecycle_status, created_at "
        "FROM persons ORDER BY id",
    )
    orders = _rows(engine, "SELECT id, person_id, ordered_at, total_amount FROM orders ORDER BY id")
    emails = _rows(engine, "SELECT person_id, address FROM emails ORDER BY id")
    return hashlib.sha256(repr((persons, orders, emails)).encode()).hexdigest()


def test_cli_seeds_an_empty_base_and_refuses_a_full_one(store: Engine) -> None:
    engine = store
    runner = CliRunner()
    first = runner.invoke(
        app, ["seed", "demo", "--persons", "200", "--json", "--today", "2026-11-22"]
    )
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert 200 <= summary["persons"] <= 210
    assert summary["orders"] > 200 and summary["order_lines"] > summary["orders"]
    assert _one(engine, "SELECT COUNT(*) FROM persons") == summary["persons"]

    again = runner.invoke(app, ["seed", "demo", "--persons", "200"])
    assert again.exit_code == 1
    assert "already has" in again.output and "--append" in again.output
    assert _one(engine, "SELECT COUNT(*) FROM persons") == summary["persons"]

    more = runner.invoke(app, ["seed", "demo", "--persons", "100", "--append", "--json"])
    assert more.exit_code == 0, more.output
    added = json.loads(more.stdout)["persons"]
    ids = [r[0] for r in _rows(engine, "SELECT id FROM persons ORDER BY id")]
    assert ids == list(range(1, summary["persons"] + added + 1))
    assert _one(engine, "SELECT COUNT(*) FROM campaigns") == 2


def test_service_refuses_a_base_with_persons(store: Engine) -> None:
    engine = store
    seed_demo(engine, 50, 1, today=TODAY)
    with pytest.raises(Refused):
        seed_demo(engine, 50, 1, today=TODAY)


def test_same_seed_gives_the_same_base_and_another_seed_another(store: Engine) -> None:
    engine = store
    seed_demo(engine, 300, 5, today=TODAY, chunk_size=120)
    first = _digest(engine)
    _empty(engine)
    seed_demo(engine, 300, 5, today=TODAY, chunk_size=120)
    assert _digest(engine) == first
    _empty(engine)
    seed_demo(engine, 300, 6, today=TODAY, chunk_size=120)
    assert _digest(engine) != first


def test_the_generator_process_writes_the_same_base_as_the_thread(store: Engine) -> None:
    # Large runs on SQLite generate in a child process and copy spool files; small runs and
    # PostgreSQL use a thread. Both must give the same rows.
    engine = store
    seed_demo(engine, 400, 9, today=TODAY, chunk_size=150, processes=True)
    spooled = _digest(engine)
    _empty(engine)
    seed_demo(engine, 400, 9, today=TODAY, chunk_size=150, processes=False)
    assert _digest(engine) == spooled


def test_a_killed_run_is_repaired_by_the_next_one(store: Engine) -> None:
    engine = store
    seed_demo(engine, 50, 1, today=TODAY)
    # A run killed after it dropped its indexes leaves them listed on its import batch.
    writer = open_writer(engine)
    try:
        ddl = writer.suspend_indexes(["orders", "persons"])
        doc = json.dumps({"suspended_indexes": ddl})
        writer.execute(
            "INSERT INTO import_batches (id, kind, source_system, status, counts, started_at) "
            "VALUES (99, 'demo', 'demo', 'running', ?, '2026-11-22 10:00:00.000000')",
            (doc,),
        )
        writer.commit()
    finally:
        writer.close()
    assert ddl
    names = {i["name"] for i in inspect(engine).get_indexes("orders")}
    assert "ix_orders_ordered_at" not in names
    seed_demo(engine, 50, 2, append=True, today=TODAY)
    names = {i["name"] for i in inspect(engine).get_indexes("orders")}
    assert "ix_orders_ordered_at" in names
    assert _one(engine, "SELECT status FROM import_batches WHERE id = 99") == "failed"


@pytest.fixture(scope="module")
def base(migrated_engine: Engine) -> Iterator[Engine]:
    """A 2,000-person demo base shared by the checks below."""
    _empty(migrated_engine)
    before = {t: inspect(migrated_engine).get_indexes(t) for t in ("orders", "persons")}
    summary = seed_demo(migrated_engine, PERSONS, 11, today=TODAY, chunk_size=700)
    after = {t: inspect(migrated_engine).get_indexes(t) for t in ("orders", "persons")}
    assert sorted(i["name"] for i in after["orders"]) == sorted(i["name"] for i in before["orders"])
    assert summary["persons"] == _one(migrated_engine, "SELECT COUNT(*) FROM persons")
    yield migrated_engine
    _empty(migrated_engine)


def test_counts_are_in_the_expected_ranges(base: Engine) -> None:
    count = {t: _one(base, f"SELECT COUNT(*) FROM {t}") for t in (
        "persons", "households", "organisations", "orders", "order_lines", "products",
        "product_categories", "consent_events", "duplicate_truth", "attribute_values",
    )}  # fmt: skip
    assert PERSONS * 1.02 <= count["persons"] <= PERSONS * 1.03
    assert count["duplicate_truth"] == count["persons"] - PERSONS
    assert PERSONS / 6 < count["households"] < PERSONS / 2
    assert abs(count["organisations"] - PERSONS / 40) <= 3
    assert 2.5 < count["orders"] / PERSONS < 5
    assert 7 < count["order_lines"] / PERSONS < 14
    assert 200 <= count["products"] <= 500 and count["product_categories"] >= 30
    assert count["consent_events"] > PERSONS and count["attribute_values"] > PERSONS
    batch = _rows(base, "SELECT status, counts FROM import_batches")
    assert [b[0] for b in batch] == ["done"]
    counts = batch[0][1] if isinstance(batch[0][1], dict) else json.loads(batch[0][1])
    assert counts["orders"] == count["orders"]


def test_every_locale_is_present_and_names_survive_the_round_trip(base: Engine) -> None:
    languages = dict(_rows(base, "SELECT language, COUNT(*) FROM persons GROUP BY language"))
    assert set(languages) == {"fr", "de", "es", "ro", "zh", "en"}
    assert languages["fr"] > languages["de"] > languages["ro"]
    countries = {r[0] for r in _rows(base, "SELECT DISTINCT country FROM addresses")}
    assert countries == {"FR", "DE", "ES", "RO", "CN", "GB", "US"}
    chinese = _rows(
        base, "SELECT given_name, family_name, given_key FROM persons WHERE language = 'zh'"
    )
    assert chinese and all(CJK.search(g + f) for g, f, _ in chinese)
    assert all(key == g for g, _, key in chinese)  # non-Latin keys kept as they are
    romanian = _rows(
        base,
        "SELECT given_name || ' ' || family_name, family_key FROM persons WHERE language = 'ro'",
    )
    names = " ".join(r[0] for r in romanian)
    for letter in "șță":
        assert letter in names.lower(), letter
    assert all(k.isascii() for _, k in romanian if k)  # keys have the marks stripped
    keys = _rows(
        base, "SELECT family_name, family_key FROM persons WHERE family_name = 'Ștefănescu'"
    )
    assert all(k == "stefanescu" for _, k in keys)


def test_emails_phones_and_addresses_are_valid_for_their_country(base: Engine) -> None:
    for (address,) in _rows(base, "SELECT address FROM emails"):
        validate_email(address, check_deliverability=False)
    phones = _rows(
        base,
        "SELECT ph.e164, ph.line_type, p.language FROM phones ph "
        "JOIN persons p ON p.id = ph.person_id",
    )
    assert phones
    for e164, line_type, language in phones:
        number = phonenumbers.parse(e164)
        assert phonenumbers.is_valid_number(number), e164
        assert phonenumbers.region_code_for_number(number) in COUNTRY_OF_LANGUAGE[language]
        assert line_type in ("mobile", "landline")
    places = {(p.country, code): p.locality for ps in places_by_country().values() for p in ps
              for code in p.postal_codes}  # fmt: skip
    addresses = _rows(
        base,
        "SELECT a.postal_code, a.locality, a.country, p.language, a.latitude FROM addresses a "
        "JOIN persons p ON p.id = a.person_id",
    )
    for code, locality, country, language, _ in addresses:
        assert re.fullmatch(POSTAL[country], code), (country, code)
        assert country in COUNTRY_OF_LANGUAGE[language]
        key = (country, code.split(" ")[0]) if country == "GB" else (country, code)
        assert places[key] == locality
    geo = sum(1 for *_, lat in addresses if lat is not None)
    assert 0.4 < geo / len(addresses) < 0.9
    without_email = _one(base, "SELECT COUNT(*) FROM persons p WHERE NOT EXISTS "
                               "(SELECT 1 FROM emails e WHERE e.person_id = p.id)")  # fmt: skip
    assert without_email > 0


def test_households_organisations_and_relationships(base: Engine) -> None:
    kinds = dict(_rows(base, "SELECT kind, COUNT(*) FROM relationships GROUP BY kind"))
    assert set(kinds) == {
        "household_member",
        "family",
        "employee_of",
        "decision_maker",
        "referred_by",
    }
    # People of one household share the family name of its head (mostly) and one address.
    homes = _rows(
        base,
        "SELECT r.household_id, a.line1, a.postal_code FROM relationships r "
        "JOIN addresses a ON a.person_id = r.person_id WHERE r.kind = 'household_member'",
    )
    by_home: dict[int, set[tuple[str, str]]] = {}
    for home, line1, code in homes:
        by_home.setdefault(home, set()).add((line1, code))
    assert by_home and all(len(v) == 1 for v in by_home.values())
    # Decision-makers work for the organisation whose buying centre they sit in.
    stray = _one(
        base,
        "SELECT COUNT(*) FROM relationships d WHERE d.kind = 'decision_maker' AND NOT EXISTS ("
        "SELECT 1 FROM relationships e WHERE e.kind = 'employee_of' "
        "AND e.person_id = d.person_id AND e.organisation_id = d.organisation_id)",
    )
    assert stray == 0
    assert _one(base, "SELECT COUNT(*) FROM orders WHERE organisation_id IS NOT NULL") > 0
    firmographic = _one(
        base,
        "SELECT COUNT(*) FROM attribute_values v JOIN attribute_definitions d "
        "ON d.id = v.definition_id WHERE d.code = 'industry' AND v.organisation_id IS NOT NULL",
    )
    assert firmographic > 0


def test_attribute_catalogue_has_labels_and_values(base: Engine) -> None:
    rows = _rows(base, 'SELECT code, labels, "group" FROM attribute_definitions')
    groups = {g for _, _, g in rows}
    assert {"demographic", "psychographic", "interests", "firmographic"} <= groups
    for _, labels, _ in rows:
        doc = labels if isinstance(labels, dict) else json.loads(labels)
        assert doc["en"] and doc["fr"]
    multi = _one(
        base,
        "SELECT COUNT(*) FROM (SELECT v.person_id FROM attribute_values v "
        "JOIN attribute_definitions d ON d.id = v.definition_id WHERE d.code = 'interests' "
        "GROUP BY v.person_id HAVING COUNT(*) > 1) x",
    )
    assert multi > 0


def test_consent_current_is_the_latest_event_of_the_ledger(base: Engine) -> None:
    events = _rows(
        base,
        "SELECT id, person_id, channel, purpose, state, occurred_at, method, proof_text "
        "FROM consent_events ORDER BY person_id, occurred_at, id",
    )
    latest: dict[tuple[int, str, str], tuple[int, str]] = {}
    for eid, pid, channel, purpose, state, _, method, proof in events:
        latest[(pid, channel, purpose)] = (eid, state)
        if state == "granted":
            assert proof and method
    rows = _rows(base, "SELECT person_id, channel, purpose, event_id, state FROM consent_current")
    current = {(p, c, u): (e, s) for p, c, u, e, s in rows}
    assert current == latest
    states = {s for _, s in current.values()}
    assert states == {"granted", "withdrawn"}
    reasons = {r[0] for r in _rows(base, "SELECT DISTINCT reason FROM suppressions")}
    assert {"bounced", "do_not_contact"} <= reasons


def test_orders_add_up_and_never_lie_in_the_future(base: Engine) -> None:
    totals = _rows(
        base,
        "SELECT o.total_amount, l.total FROM orders o JOIN (SELECT order_id, SUM(amount) AS "
        "total FROM order_lines GROUP BY order_id) l ON l.order_id = o.id",
    )
    assert len(totals) == _one(base, "SELECT COUNT(*) FROM orders")
    for total, lines in totals:
        assert abs(Decimal(str(total)) - Decimal(str(lines))) < Decimal("0.005")
    last = _one(base, "SELECT MAX(ordered_at) FROM orders")
    last = last if isinstance(last, datetime) else datetime.fromisoformat(str(last))
    assert last.date() < TODAY
    assert _one(base, "SELECT COUNT(*) FROM order_lines WHERE quantity < 0") > 0  # returns
    months = [r[0] for r in _rows(base, "SELECT ordered_at FROM orders")]
    winter = sum(1 for m in months if str(m)[5:7] in ("11", "12"))
    assert winter / len(months) > 2 / 12 * 1.2  # the Christmas season shows


def test_repeat_buying_is_heterogeneous_and_lifecycle_agrees(base: Engine) -> None:
    per = [r[0] for r in _rows(base, "SELECT COUNT(*) FROM orders GROUP BY person_id")]
    mean = sum(per) / len(per)
    variance = sum((x - mean) ** 2 for x in per) / len(per)
    assert 0.15 < sum(1 for x in per if x == 1) / len(per) < 0.5  # one-time buyers
    assert variance / mean > 2  # overdispersed, unlike a Poisson
    top = sorted(per, reverse=True)[: len(per) // 10]
    assert sum(top) / sum(per) > 0.3  # a long tail of frequent buyers
    rows = _rows(
        base,
        "SELECT p.lifecycle_status, COUNT(o.id), MAX(o.ordered_at) FROM persons p "
        "LEFT JOIN orders o ON o.person_id = p.id GROUP BY p.id, p.lifecycle_status",
    )
    seen = set()
    for status, n, last in rows:
        seen.add(status)
        if status == "prospect":
            assert n == 0
            continue
        assert n > 0
        day = (last if isinstance(last, datetime) else datetime.fromisoformat(str(last))).date()
        recent = (TODAY - day).days <= 365
        assert recent == (status in ("customer", "won_back")), (status, day)
    assert seen == {"prospect", "customer", "lapsed", "won_back"}


def test_planted_duplicates_resemble_their_originals(base: Engine) -> None:
    pairs = _rows(
        base,
        "SELECT d.perturbation, a.given_name, a.family_name, a.birth_date, b.given_name, "
        "b.family_name, b.birth_date, a.source_system, b.source_system FROM duplicate_truth d "
        "JOIN persons a ON a.id = d.person_id JOIN persons b ON b.id = d.original_id",
    )
    assert len(pairs) >= PERSONS * 0.02
    kinds = {k for p in pairs for k in p[0].split("+")}
    assert {"typo_given", "typo_family", "swapped_names", "other_spelling", "moved"} <= kinds
    for label, g1, f1, b1, g2, f2, b2, s1, s2 in pairs:
        same_birth = b1 is not None and b1 == b2
        similar = fuzz.token_sort_ratio(f"{g1} {f1}", f"{g2} {f2}") >= 75
        assert same_birth or similar, (label, g1, f1, g2, f2)
        assert s1 != s2  # the copy came in through another source


def test_the_past_campaign_has_a_control_group_and_lift(base: Engine) -> None:
    campaign = _rows(base, "SELECT id, status, response_window_days FROM campaigns")
    assert len(campaign) == 1 and campaign[0][1] == "completed"
    cid = campaign[0][0]
    cells = _rows(base, "SELECT id, is_control FROM cells WHERE campaign_id = :c", c=cid)
    assert len(cells) == 3 and sum(1 for _, ctl in cells if ctl) == 1
    stats = _rows(
        base,
        "SELECT c.is_control, COUNT(DISTINCT m.person_id), COUNT(DISTINCT x.person_id), "
        "COUNT(DISTINCT r.person_id) FROM campaign_members m JOIN cells c ON c.id = m.cell_id "
        "LEFT JOIN communications x ON x.person_id = m.person_id AND x.campaign_id = m.campaign_id "
        "LEFT JOIN responses r ON r.person_id = m.person_id AND r.campaign_id = m.campaign_id "
        "AND r.kind = 'purchase' GROUP BY c.is_control",
    )
    by = {bool(ctl): (members, messaged, buyers) for ctl, members, messaged, buyers in stats}
    control, treated = by[True], by[False]
    assert control[0] > 0.05 * (control[0] + treated[0])
    assert control[1] == 0  # the control group got nothing
    assert treated[1] == treated[0]  # every treated member has a communication
    assert treated[2] / treated[0] > control[2] / control[0]  # lift
    kinds = {r[0] for r in _rows(base, "SELECT DISTINCT kind FROM responses")}
    assert {"open", "click", "purchase", "unsubscribe", "bounce"} <= kinds
    # Purchases are linked to orders of the same person inside the response window.
    bad = _one(
        base,
        "SELECT COUNT(*) FROM responses r JOIN orders o ON o.id = r.order_id "
        "WHERE r.kind = 'purchase' AND (o.person_id <> r.person_id OR r.amount <> o.total_amount)",
    )
    assert bad == 0
    assert _one(base, "SELECT COUNT(*) FROM orders WHERE campaign_id = :c", c=cid) > 0
    # Each unsubscribe wrote a withdrawal of the e-mail marketing consent.
    missing = _one(
        base,
        "SELECT COUNT(*) FROM responses r WHERE r.kind = 'unsubscribe' AND NOT EXISTS ("
        "SELECT 1 FROM consent_events e WHERE e.person_id = r.person_id AND e.channel = 'email' "
        "AND e.purpose = 'marketing' AND e.state = 'withdrawn' AND e.method = 'unsubscribe_link' "
        "AND e.occurred_at = r.occurred_at)",
    )
    assert missing == 0


def test_foreign_keys_hold(base: Engine) -> None:
    broken = []
    for table in metadata().sorted_tables:
        for fk in table.foreign_keys:
            child, parent = fk.parent, fk.column
            sql = (
                f"SELECT COUNT(*) FROM {table.name} c WHERE c.{child.name} IS NOT NULL AND NOT "
                f"EXISTS (SELECT 1 FROM {parent.table.name} p "
                f"WHERE p.{parent.name} = c.{child.name})"
            )
            if _one(base, sql):
                broken.append(f"{table.name}.{child.name}")
    assert broken == []
    if base.dialect.name == "sqlite":
        assert _rows(base, "PRAGMA foreign_key_check") == []
