"""Personalisation in the sandbox: injection refused, fields checked before any send,
fallbacks, locales, CSS inlined, a text part derived, links tracked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from closedloop.campaigns import render
from closedloop.campaigns.link_tracking import with_tracking
from closedloop.campaigns.render import Rendered, RenderFailed
from closedloop.campaigns.template_names import Fields
from closedloop.campaigns.templates import ContentCreate, compile_template
from closedloop.campaigns.tracking import read_click, read_open
from closedloop.vocab import Channel


def _renderer(body: str, subject: str | None = "Hi", **kw: str) -> object:
    contents = [ContentCreate(locale=kw.get("locale", "en"), subject=subject, body=body)]
    renderer, problems = compile_template(Channel.EMAIL, "en", contents)
    assert not problems, problems
    return renderer


def _problems(body: str, subject: str | None = "Hi") -> list[str]:
    _r, problems = compile_template(
        Channel.EMAIL, "en", [ContentCreate(locale="en", subject=subject, body=body)]
    )
    return [str(p) for p in problems]


def _context(**person: object) -> dict[str, object]:
    return {
        "person": Fields("person", person),
        "offer": Fields("offer", {"name": "Club", "price": Decimal("1234.5")}),
        "campaign": Fields("campaign", {"code": "C", "name": "C", "currency": "EUR"}),
        "wave": Fields("wave", {"name": "W"}),
        "recommendations": [],
        "today": date(2026, 12, 7),
    }


def test_every_environment_is_the_immutable_sandbox() -> None:
    assert isinstance(render.HTML_ENV, ImmutableSandboxedEnvironment)
    assert isinstance(render.TEXT_ENV, ImmutableSandboxedEnvironment)


@pytest.mark.parametrize(
    "attack",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ person.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ person['__class__'] }}",
    ],
)
def test_template_injection_is_refused_when_the_template_is_saved(attack: str) -> None:
    problems = _problems(f"<p>{attack}</p>")
    assert problems and ("unsafe" in problems[0] or "unknown name" in problems[0])


@pytest.mark.parametrize(
    "attack", ["{{ recommendations.append(1) }}", "{{ person | attr('__class__') }}"]
)
def test_injection_that_slips_past_the_analysis_fails_at_render_with_a_clear_error(
    attack: str,
) -> None:
    r = _renderer(f"<p>{attack}</p>")
    with pytest.raises(RenderFailed, match="unsafe"):
        r.render(_context(given_name="A"), "en")  # type: ignore[attr-defined]


def test_syntax_errors_and_unknown_fields_name_the_part_and_line() -> None:
    problems = _problems("<p>Hello</p>\n<p>{{ person.given_name </p>")
    assert problems == [f"en body, line 2: {problems[0].split(': ', 1)[1]}"]
    assert _problems("<p>{{ person.givn_name }}</p>")[0].startswith(
        "en body, line 1: unknown field person.givn_name (known: id, salutation"
    )
    assert "unknown name 'persn'" in _problems("<p>{{ persn.x }}</p>")[0]


def test_an_empty_field_needs_a_fallback() -> None:
    r = _renderer(
        '<p>Dear {{ person.given_name }}</p><p>{{ person.family_name | default("") }}</p>'
    )
    with pytest.raises(RenderFailed) as failed:
        r.render(_context(given_name=None), "en")  # type: ignore[attr-defined]
    assert failed.value.field == "person.given_name"
    out = _renderer('<p>Dear {{ person.given_name | default("reader") }}</p>').render(  # type: ignore[attr-defined]
        _context(given_name=""), "en"
    )
    assert "Dear reader" in out.body and "Dear reader" in out.text


def test_locale_variants_and_locale_aware_money() -> None:
    contents = [
        ContentCreate(locale="en", subject="Offer", body="<p>{{ offer.price | money }}</p>"),
        ContentCreate(locale="fr", subject="Offre", body="<p>{{ offer.price | money }}</p>"),
    ]
    renderer, _ = compile_template(Channel.EMAIL, "en", contents)
    assert renderer is not None
    fr = renderer.render(_context(), "fr-CA")
    en = renderer.render(_context(), "de")  # no German: the default locale
    assert fr.subject == "Offre" and fr.text == "1\u202f234,50\xa0€\n"
    assert en.subject == "Offer" and en.text == "€1,234.50\n"


def test_css_is_inlined_and_the_text_part_keeps_links_and_lists() -> None:
    html = (
        "<html><head><style>.cta { color: red }</style></head><body>"
        "<h1>Hello {{ person.given_name }}</h1><ul><li>One</li><li>Two</li></ul>"
        '<a class="cta" href="https://shop.example/x?a=1&amp;b=2">Shop</a></body></html>'
    )
    out = _renderer(html).render(_context(given_name="Zoë"), "en")  # type: ignore[attr-defined]
    assert 'style="color: red;"' in out.body and "<style>" not in out.body
    assert out.text == "Hello Zoë\n\n- One\n- Two\n\nShop (https://shop.example/x?a=1&b=2)\n"


def test_tracking_rewrites_links_in_both_parts_but_not_unsubscribe_nor_notrack() -> None:
    message = Rendered(
        "s",
        '<html><body><a href="https://shop.example/x?a=1&amp;b=2">Shop</a>'
        '<a href="https://crm.example/preferences/tok/unsubscribe">Stop</a>'
        '<a data-notrack href="https://partner.example/">Partner</a></body></html>',
        "Shop (https://shop.example/x?a=1&b=2) and https://shop.example/x?a=1&b=2z\n",
    )
    out = with_tracking(message, 42, skip=("https://crm.example/preferences/",))
    assert "https://crm.example/preferences/tok/unsubscribe" in out.body
    assert 'href="https://partner.example/"' in out.body
    click = out.body.split("/t/c/")[1].split('"')[0]
    assert read_click(click).url == "https://shop.example/x?a=1&b=2"
    assert read_click(click).communication_id == 42
    assert out.text is not None and "b=2z" in out.text  # a longer address is left alone
    assert out.text.count("/t/c/") == 1
    pixel = out.body.split("/t/o/")[1].split('"')[0]
    assert read_open(pixel) == 42 and out.body.index("/t/o/") < out.body.index("</body>")


def test_a_forged_tracking_token_is_refused() -> None:
    from closedloop.campaigns.tracking import click_token, open_token
    from closedloop.consent import TokenInvalid

    token = click_token(7, "https://shop.example/")
    _payload, sig = token.split(".")
    import base64

    forged = base64.urlsafe_b64encode(b"7|https://evil.example/").rstrip(b"=").decode()
    with pytest.raises(TokenInvalid):
        read_click(f"{forged}.{sig}")
    with pytest.raises(TokenInvalid):
        read_open(token)  # a click token is not an open token
    with pytest.raises(TokenInvalid):
        read_click(open_token(7))
