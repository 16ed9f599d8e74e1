"""Shape the person card (``reports.card``) for the page: groups, the consent grid, totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from closedloop.consent.models import ConsentCurrent
from closedloop.reports.card import AttributeView, PersonCard
from closedloop.web.labels import ATTRIBUTE_GROUPS, CHANNEL_CODES, PURPOSE_CODES


@dataclass
class ConsentGrid:
    """Current consent per channel (rows) and purpose (columns)."""

    channels: list[str]
    purposes: list[str]
    cells: dict[str, dict[str, ConsentCurrent | None]]


def _ordered(known: tuple[str, ...], seen: set[str]) -> list[str]:
    return [*known, *sorted(seen - set(known))]


def consent_grid(consents: list[ConsentCurrent]) -> ConsentGrid:
    """Every channel × purpose, with the current state where one was ever recorded."""
    channels = _ordered(CHANNEL_CODES, {c.channel for c in consents})
    purposes = _ordered(PURPOSE_CODES, {c.purpose for c in consents})
    cells: dict[str, dict[str, ConsentCurrent | None]] = {
        ch: dict.fromkeys(purposes) for ch in channels
    }
    for c in consents:
        cells[c.channel][c.purpose] = c
    return ConsentGrid(channels, purposes, cells)


def attribute_groups(attributes: list[AttributeView]) -> list[tuple[str, list[AttributeView]]]:
    """Attributes by catalogue group, in the catalogue's group order."""
    groups: dict[str, list[AttributeView]] = {}
    for attr in attributes:
        groups.setdefault(attr.group, []).append(attr)
    order = _ordered(ATTRIBUTE_GROUPS, set(groups))
    return [(g, groups[g]) for g in order if g in groups]


def card_context(card: PersonCard, default_currency: str) -> dict[str, Any]:
    """Everything the card template needs besides the card itself."""
    person = card.person
    currencies = card.order_summary.currencies
    return {
        "card": card,
        "person": person,
        "attribute_groups": attribute_groups(card.attributes),
        "consent_grid": consent_grid(card.consents),
        "revenue_currency": currencies[0] if len(currencies) == 1 else default_currency,
        "mixed_currencies": len(currencies) > 1,
        "default_currency": default_currency,
    }
