"""Languages: the user's choice, the browser's, complete catalogues, and locale formatting."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop import i18n, vocab
from closedloop.db.uow import unit_of_work
from closedloop.jobs import service as jobs
from closedloop.settings import get_settings
from closedloop.users.models import User
from closedloop.web.labels import LABELS
from closedloop.web.rendering import environment

ROOT = Path(__file__).resolve().parents[2]


def _text(html: str) -> str:
    text = re.sub(r"<[^>]+>", " ", html)
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def _choose(web: SimpleNamespace, client: TestClient, locale: str, next_url: str = "/") -> None:
    token = web.page_token(client, next_url)
    response = client.post(
        "/locale",
        data={"locale": locale, "next": next_url, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == next_url


def test_french_chosen_by_the_user_is_used_and_remembered(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    factory: sessionmaker[Session],
    app: object,
    web: SimpleNamespace,
) -> None:
    logged_in("marketer")
    assert "Persons" in client.get("/persons").text
    _choose(web, client, "fr", "/persons")
    html = client.get("/persons").text
    assert '<html lang="fr">' in html
    for text in ("Personnes", "Rechercher", "Cycle de vie", "Se déconnecter", "Aller au contenu"):
        assert text in html
    with factory() as s:
        assert s.scalars(select(User.locale).where(User.username == "marketer")).one() == "fr"
    # A new session of the same user starts in French.
    with TestClient(app) as other:  # type: ignore[arg-type]
        web.login(other, "marketer")
        assert "Personnes" in other.get("/persons").text


def test_language_can_be_chosen_before_login(client: TestClient, web: SimpleNamespace) -> None:
    _choose(web, client, "fr", "/login")
    html = client.get("/login").text
    assert "Connexion" in html and "Mot de passe" in html
    _choose(web, client, "en", "/login")
    assert "Password" in client.get("/login").text


def test_language_picked_before_login_is_kept_on_the_account(
    client: TestClient,
    make_user: Callable[..., str],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    make_user("ion", "agent", locale="en")
    _choose(web, client, "fr", "/login")
    web.login(client, "ion")
    assert "Personnes" in client.get("/persons").text
    with factory() as s:
        assert s.scalars(select(User.locale).where(User.username == "ion")).one() == "fr"


def test_unknown_language_is_ignored(client: TestClient, web: SimpleNamespace) -> None:
    token = web.page_token(client, "/login")
    client.post("/locale", data={"locale": "xx", "next": "/login", "csrf_token": token})
    assert "Password" in client.get("/login").text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CH, fr;q=0.9, en;q=0.8", "Mot de passe"),
        ("de-DE, fr;q=0.5", "Mot de passe"),
        ("de-DE, en;q=0.5, fr;q=0.4", "Password"),
        ("ja", "Password"),
        ("", "Password"),
    ],
)
def test_browser_language_is_the_default(client: TestClient, header: str, expected: str) -> None:
    assert expected in client.get("/login", headers={"Accept-Language": header}).text


def test_settings_give_the_default_language(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from closedloop.settings import get_settings

    monkeypatch.setenv("CLOSEDLOOP_DEFAULT_LOCALE", "fr")
    get_settings.cache_clear()
    try:
        assert "Mot de passe" in client.get("/login").text
    finally:
        get_settings.cache_clear()


def test_french_card_formats_dates_numbers_and_money(
    client: TestClient, logged_in: Callable[..., TestClient], rich_card: int, web: SimpleNamespace
) -> None:
    logged_in("agent")
    _choose(web, client, "fr", f"/persons/{rich_card}")
    html = client.get(f"/persons/{rich_card}").text
    text = _text(html)
    assert "Chiffre d’affaires 1 234,50 €" in text
    assert "Première commande 5 mars 2024" in text
    assert "Lampe de bureau LP-7 1 1 210,00 € 1 210,00 €" in text
    assert "Retiré depuis le 20 janv. 2025" in text
    assert "Coordonnées GPS : 48,8553 ; 2,3729" in text
    # Catalogue labels in the user's language.
    assert "Centres d’intérêt Loisirs Livres, Randonnée" in text
    assert "Démographie Enfants 2" in text
    assert "Client" in text and "Recommandé par" in text
    assert "Aucune tâche pour l’instant." in text
    list_text = _text(client.get("/persons", params={"q": "dupont"}).text)
    assert "1 personne" in list_text


def test_english_formats() -> None:
    assert i18n.format_currency(Decimal("1234.5"), "EUR", "en") == "€1,234.50"
    assert i18n.format_date(date(2024, 3, 5), "en") == "Mar 5, 2024"
    assert i18n.format_decimal(10000, "en") == "10,000"
    naive = datetime(2024, 3, 5, 14, 7)
    assert i18n.format_datetime(naive, "en") == i18n.format_datetime(
        naive.replace(tzinfo=UTC), "en"
    )


def test_french_formats() -> None:
    def plain(text: str) -> str:
        return text.replace("\u202f", " ").replace("\xa0", " ")

    assert plain(i18n.format_currency(Decimal("1234.50"), "EUR", "fr")) == "1 234,50 €"
    assert i18n.format_date(date(2024, 3, 5), "fr") == "5 mars 2024"
    assert plain(i18n.format_decimal(10000, "fr")) == "10 000"
    assert plain(i18n.format_percent(0.42, "fr")) == "42 %"


def test_negotiation() -> None:
    assert i18n.negotiate("fr-FR,fr;q=0.9", "en") == "fr"
    assert i18n.negotiate("en;q=0.2, fr;q=0.8", "en") == "fr"
    assert i18n.negotiate("de;q=1, fr;q=0", "en") == "en"
    assert i18n.negotiate(None, "fr") == "fr"
    assert i18n.negotiate("garbage;;q=x", "xx") == "en"
    assert i18n.normalize_locale("fr_FR") == "fr"
    assert i18n.normalize_locale(None) is None


def _extracted() -> set[str | tuple[str, ...]]:
    method_map = [
        ("closedloop/**.py", "python"),
        ("closedloop/web/templates/**.html", "jinja2"),
    ]
    options = {
        "closedloop/web/templates/**.html": {
            "extensions": "jinja2.ext.i18n",
            "trim_blocks": "true",
            "lstrip_blocks": "true",
        }
    }
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "src"),
        method_map,
        options,
        keywords=keywords,
        directory_filter=lambda path: not Path(path).name.startswith("."),
    ):
        found.add(message)
    return found


@pytest.mark.parametrize("locale", i18n.SUPPORTED_LOCALES)
def test_catalogues_are_complete(locale: str) -> None:
    with i18n.catalogue_path(locale).open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    translated = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else tuple(message.id)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{locale}: {key!r} is not translated"
        assert not message.fuzzy, f"{locale}: {key!r} is fuzzy"
        translated[key] = strings
    missing = [m for m in _extracted() if m not in translated]
    assert not missing, f"{locale}: messages missing from the catalogue: {missing}"


def test_every_vocabulary_code_has_a_label() -> None:
    codes = {
        member.value
        for enum in (
            vocab.LifecycleStatus,
            vocab.RelationshipType,
            vocab.ContactKind,
            vocab.PhoneKind,
            vocab.AddressStatus,
            vocab.AttributeGroup,
            vocab.Channel,
            vocab.Purpose,
            vocab.ConsentState,
            vocab.ConsentMethod,
            vocab.SuppressionReason,
            vocab.Role,
            vocab.CommunicationStatus,
            vocab.ResponseKind,
            vocab.TaskStatus,
        )
        for member in enum
    }
    assert codes <= set(LABELS)


def test_pages_show_times_in_the_configured_zone(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with unit_of_work(factory) as s:
        job = jobs.enqueue(s, "plugin.absent")
        job.created_at = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    logged_in("admin")
    assert "Jan 5, 2026, 11:30:00\u202fPM" in client.get("/jobs").text  # UTC by default
    for zone, shown in (
        ("Asia/Tokyo", "Jan 6, 2026, 8:30:00\u202fAM"),
        ("Mars/Olympus", "Jan 5, 2026, 11:30:00\u202fPM"),
    ):
        monkeypatch.setenv("CLOSEDLOOP_TIMEZONE", zone)
        get_settings.cache_clear()
        environment.cache_clear()
        assert shown in client.get("/jobs").text  # an unknown zone falls back to UTC
    get_settings.cache_clear()
    environment.cache_clear()


def test_stored_job_messages_are_translated_where_shown() -> None:
    """Background work stores English; a page finds the message and writes it in its
    language with its numbers, a marked constant too; anything else is left as it is."""
    from closedloop.dedupe.said import PHASE_DONE, PHASE_TEXT
    from closedloop.errors import failure_message

    stored = PHASE_DONE(phase=PHASE_TEXT["store"], done=12345, total=20000)
    assert stored == "storing pairs: 12,345 of 20,000"
    fr = i18n.translate_stored(stored, "fr").replace("\u202f", " ").replace("\xa0", " ")
    assert fr == ("enregistrement des paires : 12 345 sur 20 000")
    assert i18n.translate_stored(stored, "en") == stored
    assert i18n.translate_stored(failure_message(MemoryError()), "fr").startswith(
        "Le serveur a manqué de mémoire"
    )
    assert i18n.translate_stored("Person 42 does not exist.", "fr") == "Person 42 does not exist."
    assert i18n.translate_stored(None, "fr") == ""
