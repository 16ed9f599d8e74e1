"""A house number in its own column maps by itself and joins the street in ``line1``, before
or after it by the address's country (issue 12)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from closedloop.ingest.service.runner import Summary
from closedloop.ingest.validate.prepare import with_number

Load = Callable[..., Summary]
Rows = Callable[..., list[tuple[Any, ...]]]
Write = Callable[..., Path]


@pytest.mark.parametrize(
    "header",
    ["street_number", "house number", "house_number", "Hausnummer", "numéro", "número", "nº"],
)
def test_house_number_column_joins_the_street(
    header: str, write: Write, load: Load, rows: Rows
) -> None:
    content = (
        f"external_id,family_name,street,{header},postal_code,locality,country\n"
        "H1,Dupont,rue Oberkampf,12,75011,Paris,FR\n"
        "H2,Müller,Hauptstraße,5a,10115,Berlin,DE\n"
        "H3,Smith,Baker Street,221B,NW1 6XE,London,GB\n"
        "H4,García,Calle Mayor,3,28013,Madrid,ES\n"
        "H5,Rossi,,7,00184,Roma,IT\n"
        "H6,Jansen,Damrak 1,1,1012 LG,Amsterdam,NL\n"
    )
    summary = load(write("numbers.csv", content))
    assert summary.mapping[header] == "street_number"
    assert summary.counts["new"] == 6 and summary.counts["rejected"] == 0
    got = dict(
        rows(
            "SELECT p.external_id, a.line1 FROM persons p "
            "JOIN addresses a ON a.person_id = p.id ORDER BY 1"
        )
    )
    assert got == {
        "H1": "12 rue Oberkampf",
        "H2": "Hauptstraße 5a",
        "H3": "221B Baker Street",
        "H4": "Calle Mayor 3",
        "H5": "7",
        "H6": "Damrak 1",  # already there: not added twice
    }


def test_with_number_uses_the_default_country_convention() -> None:
    assert with_number("George Street", "10", "AU") == "10 George Street"
    assert with_number("Via Roma", "10", "it") == "Via Roma 10"
    assert with_number("Via Roma", None, "IT") == "Via Roma"
