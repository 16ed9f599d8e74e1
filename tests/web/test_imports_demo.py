"""The imports pages on a freshly seeded demo base (issue 14, items 1 and 2): the list answers
before any import, the demo's own batch reads sensibly, and the mapping step shows each
column's first values."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from closedloop.demo import seed_demo

CSV = (
    "external_id;salutation;given_name;family_name;email\n"
    "A-1;M.;Jean;Dupont;jean@example.com\n"
    "A-2;Mme;Ana;Pop;ana@example.ro\n"
    "A-3;Dr;Li;Wang;li@example.cn\n"
    "A-4;M.;Not;Shown;x@example.com\n"
)


def test_imports_page_answers_on_the_demo_base(
    client: TestClient, logged_in: Callable[..., TestClient], engine: Engine
) -> None:
    seeded = seed_demo(engine, persons=200, seed=42)
    batch_id = seeded["import_batch_id"]
    logged_in("admin")
    page = client.get("/imports")
    assert page.status_code == 200, page.text
    row = re.search(rf'<a href="/imports/{batch_id}">#{batch_id} demo</a>.*?</tr>', page.text, re.S)
    assert row is not None
    # The generated batch has none of an import's counts: each reads 0, not a server error.
    assert row.group(0).count("<td>0</td>") == 4  # new, updated, unchanged, rejected
    batch = client.get(f"/imports/{batch_id}")
    assert batch.status_code == 200
    # What the generator wrote is shown instead (persons, orders…).
    persons = seeded["persons"]
    assert re.search(rf"<strong>{persons:,}</strong> Persons", batch.text)


def test_mapping_step_shows_each_columns_first_values(
    client: TestClient, logged_in: Callable[..., TestClient], web: SimpleNamespace, engine: Engine
) -> None:
    seed_demo(engine, persons=200, seed=42)
    logged_in("admin")
    token = web.csrf_from(client.get("/imports").text)
    html = client.post(
        "/imports/upload",
        data={"kind": "persons", "source": "demo-test", "csrf_token": token},
        files={"file": ("clients.csv", CSV.encode(), "text/csv")},
    ).text
    cells = dict(re.findall(r'<label for="t-\d+">([^<]+)</label></th>\s*<td>([^<]*)</td>', html))
    assert cells == {
        "external_id": "A-1 · A-2 · A-3",
        "salutation": "M. · Mme · Dr",
        "given_name": "Jean · Ana · Li",
        "family_name": "Dupont · Pop · Wang",
        "email": "jean@example.com · ana@example.ro · li@example.cn",
    }
