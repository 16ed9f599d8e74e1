"""Every page of the seeded demo, walked as a new user would (issue 14, item 10).

Logged in as an administrator, the walk follows every same-origin link of the navigation and of
each page it reaches, breadth first, and checks that each page answers 200 and shows no raw
internal code: no snake_case value of a stored vocabulary (``marketing_email``, ``do_not_call``,
``not_duplicate``), no Python representation (``None``, ``['…']``, ``{'…``, ``Decimal(``), no
traceback and no message id left untranslated. It walks in English, then again in French after
switching the interface language with the page's own switch.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from closedloop import i18n
from closedloop.db.uow import session_factory, unit_of_work
from closedloop.dedupe.jobs import enqueue_run
from closedloop.demo import seed_demo
from closedloop.jobs import service as jobs
from closedloop.scoring import service as scoring
from closedloop.scoring.schemas import ScoreParams

#: At most this many pages per language, and this many of one shape (``/persons/{id}``).
MAX_PAGES = 150
PER_SHAPE = 3
#: Not pages a user reads: files to download, the JSON API, assets, tracking redirects.
SKIPPED = re.compile(
    r"^/(?:api/|static/|vendor/|openapi\.json|t/|o/|logout)"
    r"|/(?:export|download)(?:$|[/?.])|\.(?:csv|xlsx|pdf|json|js|css|png|svg|zip|ics)(?:$|\?)"
)
_HREF = re.compile(r"<a\b[^>]*?\bhref=\"([^\"]+)\"", re.I)
#: Elements whose text is shown on purpose as code, and those a user never reads.
_HIDDEN = re.compile(
    r"<(script|style|code|pre|kbd|samp|textarea|template)\b[^>]*>.*?</\1>", re.S | re.I
)
_TAG = re.compile(r"<[^>]+>")
#: A raw value of a stored vocabulary: lower-case words joined by underscores, not part of an
#: email address, a file name, a path or an identifier shown in a URL.
#: ``{given_name}`` is a placeholder the user types, shown on purpose.
_SNAKE = re.compile(r"(?<![\w@./:#{-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@/}-]|\.\w)")
_REPRS = {
    # A value printed as None: a whole cell, option or value after a colon ("None yet" is text).
    "Python None": re.compile(r"(?:^|[|:=·(])\s*None\s*(?:$|[|·),])", re.M),
    "a Python list": re.compile(r"\[\s*'|\[\s*\"|'\s*\]"),
    "a Python dict": re.compile(r"\{\s*'|\{\s*\""),
    "a Decimal": re.compile(r"Decimal\("),
    "a datetime repr": re.compile(r"datetime\.(?:date|datetime)\("),
    "an enum repr": re.compile(
        r"<[A-Z]\w+\.[A-Z_]+: "
        r"|\b(?:Channel|Purpose|Role|ConsentState|LifecycleStatus)\.[A-Z_]{2,}\b"
    ),
    "a traceback": re.compile(r"Traceback \(most recent call last\)|File \"/"),
    "an untranslated message id": re.compile(r"\bN_\(|\bgettext\(|%\(\w+\)s"),
    "a Jinja2 leftover": re.compile(r"\{\{|\}\}|\{%|%\}|Undefined"),
}


@dataclass
class Walk:
    """What one walk saw: pages fetched, and every problem found, by page."""

    seen: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def visible_text(html: str) -> str:
    """The text a reader sees: no markup, scripts, styles or code samples; entities decoded."""
    body = html.split("<body", 1)[-1]
    return unescape(_TAG.sub("\n", _HIDDEN.sub(" ", body)))


def raw_codes(text: str) -> list[str]:
    """Every raw internal value in ``text``, described."""
    found = [f"raw code {m!r}" for m in sorted(set(_SNAKE.findall(text)))]
    for what, pattern in _REPRS.items():
        hit = pattern.search(text)
        if hit:
            start = max(hit.start() - 40, 0)
            found.append(f"{what}: …{' '.join(text[start : hit.end() + 40].split())}…")
    return found


def _shape(path: str) -> str:
    return re.sub(r"\d+", "{n}", path)


def links(html: str) -> list[str]:
    """The same-origin page links of ``html``, without fragments."""
    out = []
    for href in _HREF.findall(html):
        href = unescape(href).split("#", 1)[0]
        parts = urlsplit(href)
        if not href or parts.scheme or parts.netloc or not href.startswith("/"):
            continue
        if SKIPPED.search(parts.path) or SKIPPED.search(href):
            continue
        out.append(href)
    return out


def untranslated(html: str, english: dict[str, str]) -> list[str]:
    """Whole texts of a French page (a cell, a button, a badge) still in English: equal to a
    message whose French translation differs."""
    nodes = {
        " ".join(unescape(t).split())
        for t in _TAG.split(_HIDDEN.sub(" ", html.split("<body", 1)[-1]))
    }
    return sorted(f"English text {n!r}" for n in nodes if n in english)


def english_messages() -> dict[str, str]:
    """The interface's English messages whose French differs (by English text)."""
    with i18n.catalogue_path("fr").open("rb") as fh:
        catalog = read_po(fh, locale="fr")
    return {
        m.id: m.string
        for m in catalog
        if isinstance(m.id, str)
        and isinstance(m.string, str)
        and m.string
        and m.string.casefold() != m.id.casefold()
        and len(m.id) > 2
        and "%(" not in m.id
    }


def walk(client: TestClient, start: str = "/", english: dict[str, str] | None = None) -> Walk:
    """Fetch pages breadth first from ``start``; each page shape at most PER_SHAPE times."""
    result = Walk()
    queue, queued, shapes = deque([start]), {start}, dict[str, int]()
    while queue and len(result.seen) < MAX_PAGES:
        url = queue.popleft()
        response = client.get(url)
        result.seen.append(url)
        final = urlsplit(str(response.url)).path
        if response.status_code != 200:
            result.problems.append(f"{url}: answered {response.status_code}")
            continue
        if final == "/login":
            result.problems.append(f"{url}: sent an administrator to the login page")
            continue
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        result.problems.extend(f"{url}: {p}" for p in raw_codes(visible_text(response.text)))
        if english:
            result.problems.extend(f"{url}: {p}" for p in untranslated(response.text, english))
        for href in links(response.text):
            shape = _shape(urlsplit(href).path) + ("?" if "?" in href else "")
            if href in queued or shapes.get(shape, 0) >= PER_SHAPE:
                continue
            shapes[shape] = shapes.get(shape, 0) + 1
            queued.add(href)
            queue.append(href)
    return result


def test_the_detector_finds_what_a_user_must_not_read() -> None:
    """The checks themselves: raw values are caught, ordinary text, emails and paths are not."""
    page = (
        "<body><p>Consent: marketing_email · Status: not_duplicate</p><td>None</td>"
        "<p>['a', 'b']</p><p>Decimal('1.5')</p><code>given_name</code>"
        "<p>jean_dupont@example.org · clients_2024.csv · /imports/demo_batch</p></body>"
    )
    found = raw_codes(visible_text(page))
    codes = [f for f in found if f.startswith("raw code")]
    assert codes == ["raw code 'marketing_email'", "raw code 'not_duplicate'"]
    assert any(f.startswith("Python None") for f in found)
    assert any(f.startswith("a Python list") for f in found)
    assert any(f.startswith("a Decimal") for f in found)
    clean = "<body><p>Marketing email · Not a duplicate · 12 persons</p></body>"
    assert raw_codes(visible_text(clean)) == []


@pytest.fixture()
def demo_admin(
    engine: Engine, client: TestClient, logged_in: Callable[..., TestClient]
) -> TestClient:
    """A small seeded demo base after a first day's jobs (the duplicate search, a scoring run
    that also sets the lifecycle), and an administrator logged in."""
    seed_demo(engine, persons=200, seed=42)
    with unit_of_work(session_factory(engine)) as s:
        enqueue_run(s, created_by="admin")
        scoring.enqueue_run(s, ScoreParams(update_lifecycle=True), created_by="admin")
        # A job that fails (an email to a person who does not exist), as the jobs page and
        # the start page's "needs attention" show it; and one still waiting.
        jobs.enqueue(s, "email.send", {"person_id": 999999}, max_attempts=1)
    assert jobs.run_pending(engine) >= 3
    with unit_of_work(session_factory(engine)) as s:
        jobs.enqueue(s, "reports.refresh_demand", created_by="admin")
    return logged_in("admin")


def test_every_page_of_the_demo_reads_well_in_english_and_french(
    demo_admin: TestClient, web: SimpleNamespace
) -> None:
    client = demo_admin
    english = walk(client)
    assert len(english.seen) >= 40, english.seen  # the walk really went through the app
    switched = client.post(
        "/locale",
        data={"locale": "fr", "next": "/", "csrf_token": web.page_token(client, "/")},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    assert '<html lang="fr">' in client.get("/").text
    french = walk(client, english=english_messages())
    assert len(french.seen) >= 40
    problems = [f"en {p}" for p in english.problems] + [f"fr {p}" for p in french.problems]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("role", ["agent", "analyst"])
def test_every_link_a_role_is_shown_opens(
    demo_admin: TestClient,
    app: FastAPI,
    make_user: Callable[..., str],
    web: SimpleNamespace,
    role: str,
) -> None:
    """A role sees only links it may follow: none of them answers 403 (or anything but 200)."""
    make_user(role, role)
    with TestClient(app) as client:
        assert web.login(client, role).status_code == 303
        seen = walk(client)
    assert len(seen.seen) >= 10, seen.seen
    assert seen.problems == [], "\n".join(seen.problems)
