"""``/api/v1/imports``: upload and import, read a batch and its rejects, roll it back."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

IMPORTS = "/api/v1/imports"
CSV = (
    "external_id;Prénom;Nom;Courriel;Code postal;Ville;Pays\n"
    "A1;jean;DUPONT;jean@dupont.fr;75011;paris;France\n"
    "A2;Ana;Pop;ana@gmial.com;010011;București;România\n"
)


def _upload(
    client: TestClient, headers: dict[str, str], content: str = CSV, **data: object
) -> object:
    form = {"kind": "persons", "source": "shop", **data}
    files = {"file": ("clients.csv", content.encode(), "text/csv")}
    return client.post(IMPORTS, data=form, files=files, headers=headers)


def test_import_read_rejects_and_rollback(client: TestClient, admin: dict[str, str]) -> None:
    response = _upload(client, admin)
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["counts"]["new"] == 1 and body["counts"]["rejected"] == 1
    assert body["rejects"][0]["field"] == "email"
    batch = body["batch_id"]
    assert response.headers["location"] == f"{IMPORTS}/{batch}"  # type: ignore[attr-defined]
    again = _upload(client, admin).json()  # type: ignore[attr-defined]
    assert again["counts"]["unchanged"] == 1
    got = client.get(f"{IMPORTS}/{batch}", headers=admin).json()
    assert got["status"] == "done" and got["rejects_total"] == 1
    csv = client.get(f"{IMPORTS}/{batch}/rejects.csv", headers=admin)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "gmial" in csv.content.decode("utf-8-sig")
    assert [b["id"] for b in client.get(IMPORTS, headers=admin).json()][-1] == batch
    rolled = client.post(f"{IMPORTS}/{batch}/rollback", headers=admin)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["removed"] >= 1
    refused = client.post(f"{IMPORTS}/{batch}/rollback", headers=admin)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"


def test_unmapped_columns_are_a_422_listing_them(client: TestClient, admin: dict[str, str]) -> None:
    content = "external_id,family_name,Kids\nK1,A,2\n"
    response = _upload(client, admin, content)
    assert response.status_code == 422  # type: ignore[attr-defined]
    problem = response.json()  # type: ignore[attr-defined]
    assert problem["errors"][0]["field"] == "Kids"
    ok = _upload(client, admin, content, as_attribute=["Kids:number"], dry_run="true")
    assert ok.status_code == 201 and ok.json()["status"] == "dry_run"  # type: ignore[attr-defined]


def test_roles_and_missing_batches(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    analyst = auth("analyst")
    assert _upload(client, analyst).status_code == 403  # type: ignore[attr-defined]
    assert client.get(f"{IMPORTS}/999", headers=analyst).status_code == 404
    assert client.post(IMPORTS).status_code == 401
