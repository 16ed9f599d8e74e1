"""``recommendations(n)`` in a message template: the targeting plugin answers the campaigns'
hook with the person's next best products (never one already bought, never an inactive
one), and the template renders them for that person."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker
from tests.integration.segments.world import category, order, person, product

from closedloop.bootstrap import load_plugins
from closedloop.campaigns.compose import recommendations_for
from closedloop.campaigns.templates import ContentCreate, base_context, compile_template
from closedloop.db.uow import unit_of_work
from closedloop.transactions.models import Product
from closedloop.vocab import Channel

BODY = (
    "<p>Hello {{ person.given_name }},</p><ul>"
    "{% for p in recommendations(2) %}<li>{{ p.name }} ({{ p.code }})</li>{% endfor %}</ul>"
    "<p>{{ recommendations | length }} in all</p>"
)


def test_a_template_lists_the_persons_next_best_products(factory: sessionmaker[Session]) -> None:
    load_plugins()
    with unit_of_work(factory) as s:
        books = category(s, "books")
        crime = [product(s, f"crime-{i}", books) for i in range(4)]
        gone = product(s, "crime-gone", books)
        s.get(Product, gone).is_active = False  # type: ignore[union-attr]
        # Readers of crime-0 also bought crime-1, then crime-2, then crime-gone.
        for i in range(6):
            other = person(s, given_name=f"R{i}")
            basket = [crime[0], crime[1]] + ([crime[2]] if i < 3 else []) + [gone]
            order(s, other, date(2026, 9, 1), [(p, "10") for p in basket])
        ann = person(s, given_name="Ann")
        order(s, ann, date(2026, 10, 1), [(crime[0], "10")])
    renderer, problems = compile_template(
        Channel.EMAIL, "en", [ContentCreate(locale="en", subject="For you", body=BODY)]
    )
    assert renderer is not None, problems
    with factory() as s:
        recs = recommendations_for(s, [ann], None)
    context = base_context(
        {"given_name": "Ann"}, offer=None, campaign={"code": "C", "name": "C"},
        wave={"name": "W"}, recommendations=recs[ann],
    )  # fmt: skip
    html = renderer.render(context, "en").body
    assert "Hello Ann" in html
    assert "<li>crime-1 (crime-1)</li><li>crime-2 (crime-2)</li>" in html
    assert "crime-0" not in html and "crime-gone" not in html  # owned, inactive
    assert "<li>" in html and html.count("<li>") == 2
