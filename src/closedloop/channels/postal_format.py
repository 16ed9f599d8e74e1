"""Address blocks as each country writes them (after the UPU's address formats).

:func:`address_block` gives the lines of an envelope's address: the name, the street lines,
the locality line in the destination country's order (postal code before the locality in
most of Europe, after it in the United Kingdom, the United States and Canada, with the
province for Italy), and the country name in capitals for mail leaving the sender's country.
A Chinese address written in Chinese characters goes from the largest unit to the smallest,
the name last.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale


@dataclass(frozen=True)
class PostalAddress:
    """A recipient's postal address, as stored."""

    name: str
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    locality: str | None = None
    region: str | None = None
    country: str | None = None


#: Countries writing "LOCALITY REGION POSTCODE" on one line.
_CITY_REGION_CODE = frozenset({"US", "CA", "AU"})
#: Countries writing the locality, then the postcode on a line of its own.
_CITY_THEN_CODE = frozenset({"GB", "IE"})
#: Countries whose locality line is in capitals by custom (La Poste, Royal Mail, USPS).
_UPPER = frozenset({"FR", "GB", "US", "CA", "IE", "IT", "AU"})


def _cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def country_name(code: str) -> str:
    """The English name of a country code, in capitals (UPU: the country line)."""
    name = Locale("en").territories.get(code.upper())
    return str(name or code).upper()


def address_block(address: PostalAddress, *, from_country: str) -> list[str]:
    """The address lines for ``address`` posted from ``from_country`` (ISO code)."""
    country = (address.country or from_country or "").upper()
    code, city, region = address.postal_code or "", address.locality or "", address.region or ""
    streets = [s for s in (address.line1, address.line2) if s]
    if country == "CN" and _cjk(" ".join([*streets, city, region, address.name])):
        lines = [code, f"{region}{city}", *streets, address.name]
    else:
        lines = [address.name, *streets]
        city = city.upper() if country in _UPPER else city
        if country in _CITY_REGION_CODE:
            lines.append(" ".join(p for p in (city, region, code) if p))
        elif country in _CITY_THEN_CODE:
            lines += [city, code]
        elif country == "IT":
            lines.append(" ".join(p for p in (code, city, region) if p))
        else:
            lines.append(" ".join(p for p in (code, city) if p))
            if country in ("ES", "RO") and region and region.casefold() != city.casefold():
                lines.append(region)
    if country and country != (from_country or "").upper():
        lines.append(country_name(country))
    return [line for line in (" ".join(x.split()) for x in lines) if line]
