"""The imports page: upload, confirm the suggested mapping, summary and rejects, CSV, rollback,
CSRF on every form and the persons:write permission."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

from fastapi.testclient import TestClient

CSV = (
    "N° client;Prénom;Nom;Courriel;Code postal;Ville;Loisir\n"
    "W1;jean;DUPONT;jean@dupont.fr;75011;paris;Lecture\n"
    "W2;Ana;Pop;ana@gmial.com;010011;București;Ski\n"
)


def _upload(client: TestClient, token: str, dry_run: bool = False) -> str:
    data = {"kind": "persons", "source": "web", "csrf_token": token}
    if dry_run:
        data["dry_run"] = "on"
    response = client.post(
        "/imports/upload", data=data, files={"file": ("clients.csv", CSV.encode(), "text/csv")}
    )
    assert response.status_code == 200, response.text
    return response.text


def test_upload_confirm_import_and_roll_back(
    client: TestClient, logged_in: Callable[..., TestClient], web: SimpleNamespace
) -> None:
    logged_in("marketer")
    page = client.get("/imports")
    assert page.status_code == 200 and "Import a file" in page.text
    html = _upload(client, web.csrf_from(page.text))
    # The suggested mapping is shown for confirmation; the unknown column asks for a choice.
    assert 'name="target:Prénom"' in html
    assert re.search(r'<option value="given_name" selected>', html)
    assert "No field matches this column." in html
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    form = {
        "csrf_token": web.csrf_from(html),
        "token": token,
        "kind": "persons",
        "source": "web",
        "target:N° client": "external_id",
        "target:Prénom": "given_name",
        "target:Nom": "family_name",
        "target:Courriel": "email",
        "target:Code postal": "postal_code",
        "target:Ville": "locality",
        "target:Loisir": "attribute:loisir:choice",
        "save_as": "web-clients",
    }
    done = client.post("/imports/run", data=form, follow_redirects=False)
    assert done.status_code == 303
    batch_url = done.headers["location"]
    summary = client.get(batch_url).text
    assert "did you mean ana@gmail.com" in summary
    assert "Download all rejects (CSV)" in summary
    csv = client.get(batch_url + "/rejects.csv")
    assert "gmial" in csv.content.decode("utf-8-sig")
    listing = client.get("/imports").text
    assert "web-clients" in listing  # the saved mapping is offered
    rolled = client.post(
        batch_url + "/rollback", data={"csrf_token": web.csrf_from(summary)}, follow_redirects=True
    )
    assert "The import was rolled back." in rolled.text


def test_csrf_and_roles(
    client: TestClient, logged_in: Callable[..., TestClient], web: SimpleNamespace
) -> None:
    logged_in("analyst")
    assert client.get("/imports").status_code == 403
    client.post("/logout", data={"csrf_token": web.page_token(client, "/")})
    logged_in("agent")
    response = client.post(
        "/imports/upload",
        data={"kind": "persons"},
        files={"file": ("c.csv", CSV.encode(), "text/csv")},
    )
    assert response.status_code == 403 and "Form expired" in response.text
    page = client.get("/imports")
    expired = client.post(
        "/imports/run", data={"csrf_token": web.csrf_from(page.text), "token": "nope"}
    )
    assert expired.status_code == 400


def test_french_page(
    client: TestClient, logged_in: Callable[..., TestClient], web: SimpleNamespace
) -> None:
    logged_in("admin")
    token = web.page_token(client, "/imports")
    client.post("/locale", data={"locale": "fr", "next": "/imports", "csrf_token": token})
    html = client.get("/imports").text
    assert "Importer un fichier" in html and "Derniers imports" in html
