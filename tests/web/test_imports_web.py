"""The imports page: upload, confirm the suggested mapping, summary and rejects, CSV, rollback,
CSRF on every form and the persons:write permission."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from closedloop.jobs.models import Job
from closedloop.jobs.service import run_pending

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
    client: TestClient, logged_in: Callable[..., TestClient], web: SimpleNamespace, engine: Engine
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
    job_url = done.headers["location"]
    assert job_url.startswith("/imports/jobs/")
    waiting = client.get(job_url, follow_redirects=False)
    # Queued: the page shows a progress bar and refreshes itself.
    assert waiting.status_code == 200
    assert "Waiting for a worker to start the import" in waiting.text
    assert '<progress id="import-progress"' in waiting.text
    assert 'http-equiv="refresh"' in waiting.text
    assert client.get(job_url + ".json").json()["status"] == "queued"
    assert run_pending(engine, kinds=["ingest.run"]) == 1
    finished = client.get(job_url, follow_redirects=False)
    assert finished.status_code == 303  # done: on to the batch
    batch_url = finished.headers["location"]
    assert client.get(job_url + ".json").json()["batch_id"] == int(batch_url.rsplit("/", 1)[1])
    summary = client.get(batch_url).text
    # Ana is kept without her mistyped email: a warning, not a reject (issue 12)
    assert "did you mean ana@gmail.com" in summary
    assert "Rows kept with warnings" in summary
    assert "Download all warnings (CSV)" in summary
    assert "No row was rejected." in summary
    csv = client.get(batch_url + "/warnings.csv")
    assert "gmial" in csv.content.decode("utf-8-sig")
    assert "gmial" not in client.get(batch_url + "/rejects.csv").content.decode("utf-8-sig")
    listing = client.get("/imports").text
    assert "web-clients" in listing  # the saved mapping is offered
    # Rolling back is a mass delete: not the marketer's to do (no button, 403), an admin's.
    assert "Roll back this import" not in summary
    refused = client.post(batch_url + "/rollback", data={"csrf_token": web.csrf_from(summary)})
    assert refused.status_code == 403
    assert client.get(batch_url + "/rollback").status_code == 403
    client.post("/logout", data={"csrf_token": web.csrf_from(summary)})
    logged_in("admin")
    summary = client.get(batch_url).text
    assert f'href="{batch_url}/rollback"' in summary  # a link to the confirmation, not a form
    confirm = client.get(batch_url + "/rollback")
    assert confirm.status_code == 200
    plan = re.search(r'id="rollback-plan">(.*?)\n</div>', confirm.text, re.S)
    assert plan is not None
    tiles = re.findall(r"<strong>(\d+)</strong> ([^<]+)</div>", plan.group(1))
    assert ("2", "persons will be deleted") in tiles
    assert ("0", "persons are kept because of their history") in tiles
    rolled = client.post(
        batch_url + "/rollback",
        data={"csrf_token": web.csrf_from(confirm.text)},
        follow_redirects=True,
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


def test_a_running_import_shows_its_progress(
    client: TestClient, logged_in: Callable[..., TestClient], web: SimpleNamespace, engine: Engine
) -> None:
    logged_in("admin")
    html = _upload(client, web.csrf_from(client.get("/imports").text), dry_run=True)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": web.csrf_from(html), "token": token, "kind": "persons",
            "source": "web", "dry_run": "on", "target:Loisir": "ignore"}  # fmt: skip
    for target, column in (("external_id", "N° client"), ("given_name", "Prénom"),
                           ("family_name", "Nom"), ("email", "Courriel"),
                           ("postal_code", "Code postal"), ("locality", "Ville")):  # fmt: skip
        form[f"target:{column}"] = target
    job_url = client.post("/imports/run", data=form, follow_redirects=False).headers["location"]
    job_id = int(job_url.rsplit("/", 1)[1])
    with Session(engine) as session, session.begin():  # as a worker reports it
        session.execute(update(Job).where(Job.id == job_id).values(status="running", progress=0.42))
    page = client.get(job_url).text
    assert 'value="42"' in page and "42 %" in page and "Importing" in page
    with Session(engine) as session, session.begin():
        session.execute(update(Job).where(Job.id == job_id).values(status="queued"))
    assert run_pending(engine, kinds=["ingest.run"]) == 1
    batch = client.get(job_url, follow_redirects=True).text
    assert "dry run: nothing was stored" in batch and "did you mean ana@gmail.com" in batch
