"""Link-only mode: when the household guard gives way (issue 12).

Two sources each clean within themselves: a pair whose given names and birth dates both
disagree is refused, then looked at again once every other pair is joined. It is joined only
when both records are still without a partner, each is the other's only such candidate, and
the sources describe the same people so closely that relatives left unmatched in both would
be a rarity (min(nₛ, nₜ)·uₛ·uₜ < 1, uₛ the share of source s left without a partner).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from closedloop.dedupe.engine.batch import cluster_pairs
from closedloop.dedupe.engine.link import SOURCE_COLUMN, leftover_links
from closedloop.dedupe.keys import prepare_one

HOUSE = {"street": "20 Kingsmill Street", "postal_code": "4614", "locality": "Ulverstone"}


def _record(uid: str, source: str, **fields: Any) -> dict[str, Any]:
    record = prepare_one({"record_id": uid, **HOUSE, **fields})
    record[SOURCE_COLUMN] = source
    return record


def _base(matched: int, extra: int = 0) -> tuple[dict[str, dict[str, Any]], list[tuple]]:
    """``matched`` persons in both sources (a strong pair each), ``extra`` persons only in
    source a and as many only in source b, and Noah Cadman (a) / Adan Cadman (b): other
    given name, other birth date, one house — refused by the guard at first."""
    records: dict[str, dict[str, Any]] = {}
    edges: list[tuple] = []
    for i in range(matched):
        for source in ("a", "b"):
            records[f"{source}{i}"] = _record(
                f"{source}{i}", source, given_name=f"Given{i}", family_name=f"Family{i}",
                birth_date=f"1970-01-{1 + i % 28:02d}",
            )  # fmt: skip
        edges.append((f"a{i}", f"b{i}", 30.0))
    for i in range(extra):
        for source in ("a", "b"):
            records[f"{source}x{i}"] = _record(
                f"{source}x{i}", source, given_name=f"Other{i}", family_name=f"Solo{source}"
            )
    records["noah"] = _record("noah", "a", given_name="Noah", family_name="Cadman",
                              birth_date="1920-01-19")  # fmt: skip
    records["adan"] = _record("adan", "b", given_name="Adan", family_name="Cadman",
                              birth_date="1914-05-25")  # fmt: skip
    edges.append(("noah", "adan", 14.0))
    return records, edges


def _cluster(
    records: dict[str, dict[str, Any]], edges: list[tuple], one_per_source: bool = True
) -> tuple[dict[str, str], pd.DataFrame]:
    frame = pd.DataFrame(edges, columns=["unique_id_l", "unique_id_r", "match_weight"])
    sizes: dict[str, int] = {}
    for record in records.values():
        sizes[record[SOURCE_COLUMN]] = sizes.get(record[SOURCE_COLUMN], 0) + 1
    clusters, refused = cluster_pairs(
        sorted(records), frame, records, one_per_source=one_per_source, source_sizes=sizes
    )
    return dict(zip(clusters.unique_id, clusters.cluster_id, strict=True)), refused


def test_sources_of_the_same_people_link_the_last_two_left() -> None:
    records, edges = _base(matched=40)
    cluster, refused = _cluster(records, edges)
    assert cluster["noah"] == cluster["adan"]
    assert refused.empty


def test_the_guard_holds_when_the_sources_hold_other_people() -> None:
    # 15 persons of each source are in that source only (16 of 56 left alone in each):
    # a father in a only and his son in b only is then a real possibility.
    records, edges = _base(matched=40, extra=15)
    cluster, refused = _cluster(records, edges)
    assert cluster["noah"] != cluster["adan"]
    assert list(refused.reason) == ["identity conflict"]


def test_the_guard_holds_when_deduplicating_one_base() -> None:
    records, edges = _base(matched=40)
    cluster, refused = _cluster(records, edges, one_per_source=False)
    assert cluster["noah"] != cluster["adan"]
    assert list(refused.reason) == ["identity conflict"]


def test_a_record_with_a_partner_keeps_it() -> None:
    # Adan has his own record in a (a strong pair): Noah's conflicting pair is not taken.
    records, edges = _base(matched=40)
    records["adan_a"] = _record("adan_a", "a", given_name="Adan", family_name="Cadman",
                                birth_date="1914-05-25")  # fmt: skip
    records["noah_b"] = _record("noah_b", "b", given_name="Noah", family_name="Cadman",
                                birth_date="1920-01-19")  # fmt: skip
    edges += [("adan_a", "adan", 40.0), ("noah", "noah_b", 40.0)]
    cluster, _ = _cluster(records, edges)
    assert cluster["noah"] == cluster["noah_b"] != cluster["adan"] == cluster["adan_a"]


def test_no_choice_between_two_members_of_one_household() -> None:
    # Two records of b left alone at one house both conflict with Noah: neither is taken.
    pairs = [("noah", "adan"), ("noah", "eve")]
    sources = {"noah": "a", "adan": "b", "eve": "b"}
    sizes = {"a": 1000, "b": 1000}
    matched = {"a": 999, "b": 998}
    assert leftover_links(pairs, set(sources), matched, sources.__getitem__, sizes) == []
    assert leftover_links(pairs[:1], set(sources), matched, sources.__getitem__, sizes) == [0]


def test_the_bound_counts_the_unmatched_of_both_sources() -> None:
    pairs = [("x", "y")]
    sources = {"x": "a", "y": "b"}
    # 1,000 × 0.05 × 0.01 = 0.5 expected wrong joins: taken; 1,000 × 0.05 × 0.05 = 2.5: not.
    sizes = {"a": 1000, "b": 1000}
    assert leftover_links(pairs, {"x", "y"}, {"a": 950, "b": 990}, sources.get, sizes) == [0]
    assert leftover_links(pairs, {"x", "y"}, {"a": 950, "b": 950}, sources.get, sizes) == []
