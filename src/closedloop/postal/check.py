"""Check and complete a postal address against the offline reference (M6, M7).

:func:`check_address` is pure (no database, no network): it returns an :class:`AddressCheck`
whose status is one of :class:`~closedloop.vocab.AddressStatus`:

- ``valid``: the code exists and the locality matches it (spellings with or without accents,
  hyphens, "Saint"/"St", a CEDEX suffix or a Paris/Lyon/Marseille arrondissement number);
- ``corrected``: something was completed or fixed, listed in ``changes`` (locality completed
  from the code, code completed from a locality with a single code, code reformatted, a
  misspelt locality or a non-postal US city name replaced, country completed from the phone);
- ``suspect``: the code does not exist, is malformed, or names other localities (``expected``);
- ``unknown``: nothing could be checked (no reference installed, no data for the country,
  a reference list known to be incomplete…); ``detail`` says why.

``level`` says how deep the check went: ``locality`` (code ↔ locality), ``area`` (a postcode
area or district: GB, CA…), ``province`` (ES), ``format`` or ``none``. GB has no open full
postcode list: its codes are checked for format and postcode area only (``level="area"``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import phonenumbers
from rapidfuzz.distance import Levenshtein

from closedloop.contacts.normalize import clean_text
from closedloop.postal.reference import (
    NOT_INSTALLED,
    CountryInfo,
    Place,
    Reference,
    area_key,
    compact_code,
    get_reference,
    locality_key,
)
from closedloop.vocab import AddressStatus

_COUNTRY_ALIASES = {"UK": "GB", "EL": "GR"}
# Old international prefixes still typed before codes: "D-80331", "F-75011", "CH-8001".
_CODE_PREFIXES = {
    "DE": ("D",),
    "FR": ("F",),
    "AT": ("A",),
    "IT": ("I",),
    "BE": ("B",),
    "LU": ("L",),
    "ES": ("E",),
    "PT": ("P",),
    "SE": ("S",),
    "NO": ("N",),
    "FI": ("FIN", "SF"),
    "HU": ("H",),
}
_GERMANIC = frozenset({"DE", "AT", "CH", "LU", "LI"})
_QUALIFIER = re.compile(r" (?:am|an der|an|im|in der|in|ob der|bei|b|a d|a|i)(?: .+)?$")
_REF_MARKER = re.compile(r" (?:\d+(?: [a-z]{1,3})?|[a-z]{1,2})$")
_INPUT_MARKER = re.compile(r" [a-z]{1,2}$")
_ARTICLES = frozenset({"la", "le", "les", "el", "los", "las", "the", "de", "du", "des"})
_LIST_LIMIT = 8
# Their published regexes also accept a bare outward code ("SW1A"): formats only.
_PARTIAL_REGEX = frozenset({"GB", "GG", "JE", "IM"})
_DIGITS = re.compile(r"\D+")
_LEADING_ARTICLE = re.compile(r"^(?:le|la|les|l|el|los|las|il|lo|the|de|het) (?=\S{3})")


@dataclass(frozen=True)
class AddressCheck:
    """Outcome of :func:`check_address`: status, values to store and what changed."""

    status: AddressStatus
    detail: str
    country: str | None
    postal_code: str | None
    locality: str | None
    region: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    changes: tuple[str, ...] = ()
    expected: tuple[str, ...] = ()
    reference_locality: str | None = None
    level: str = "none"
    sources: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (status as its string value)."""
        data = asdict(self)
        data["status"] = self.status.value
        data["changes"], data["expected"] = list(self.changes), list(self.expected)
        data["sources"] = list(self.sources)
        return data


@dataclass
class _State:
    country: str | None
    postal_code: str | None
    locality: str | None
    region: str | None
    changes: list[str] = field(default_factory=list)
    latitude: float | None = None
    longitude: float | None = None
    reference_locality: str | None = None
    sources: tuple[str, ...] = ()

    def done(
        self,
        status: AddressStatus,
        detail: str,
        level: str = "none",
        expected: tuple[str, ...] = (),
    ) -> AddressCheck:
        if status is AddressStatus.VALID and self.changes:
            status = AddressStatus.CORRECTED
        return AddressCheck(
            status=status,
            detail=detail[:300],
            country=self.country,
            postal_code=self.postal_code,
            locality=self.locality,
            region=self.region,
            latitude=self.latitude,
            longitude=self.longitude,
            changes=tuple(self.changes),
            expected=expected,
            reference_locality=self.reference_locality,
            level=level,
            sources=self.sources,
        )

    def use_place(self, place: Place) -> None:
        self.reference_locality = place.locality
        if self.region is None and place.region:
            self.region = place.region  # enrichment, not a correction
        if place.latitude is not None:
            self.latitude, self.longitude = place.latitude, place.longitude


def country_from_phone(e164: str | None) -> str | None:
    """ISO country of a phone number (``+40721234567`` → ``RO``), or None if unknown."""
    if not e164:
        return None
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    if region and region not in {"ZZ", "001"}:
        return str(region)
    regions = phonenumbers.region_codes_for_country_code(number.country_code or 0)
    return str(regions[0]) if len(regions) == 1 and regions[0] != "001" else None


def _join(items: list[str] | tuple[str, ...]) -> str:
    shown = ", ".join(items[:_LIST_LIMIT])
    return shown + (f" … ({len(items)} in all)" if len(items) > _LIST_LIMIT else "")


# --- postal code formats -------------------------------------------------------------------


@lru_cache(maxsize=512)
def _shapes(formats: tuple[str, ...]) -> tuple[tuple[re.Pattern[str], str, str], ...]:
    """(regex on the compact code, display format, literal prefix) per format."""
    shapes = []
    for fmt in formats:
        shape = re.sub(r"[\s\-]", "", fmt)
        pattern = "".join(
            r"\d" if ch == "#" else "[A-Z]" if ch == "@" else re.escape(ch) for ch in shape
        )
        prefix = re.match(r"[A-Z]*", shape).group(0)  # type: ignore[union-attr]
        shapes.append((re.compile(pattern + r"\Z"), fmt, prefix))
    return tuple(shapes)


def _render(fmt: str, compact: str) -> str:
    out, i = [], 0
    for ch in fmt:
        if ch in " -":
            out.append(ch)
        else:
            out.append(compact[i])
            i += 1
    return "".join(out)


def _format(info: CountryInfo, raw: str) -> str | None:
    """The code in its country's display format, or None if it fits no format."""
    return _format_code(info.country, info.formats, info.regex, raw)


@lru_cache(maxsize=65536)
def _format_code(country: str, formats: tuple[str, ...], regex: str | None, raw: str) -> str | None:
    compact = compact_code(raw)
    raw = " ".join(raw.upper().split())
    shapes = _shapes(formats)
    candidates = [compact]
    for prefix in (country, *_CODE_PREFIXES.get(country, ())):
        if compact.startswith(prefix) and len(compact) > len(prefix):
            candidates.append(compact[len(prefix) :])
    for candidate in candidates:
        for pattern, fmt, literal in shapes:
            if pattern.match(candidate):
                return _render(fmt, candidate)
            if literal and pattern.match(literal + candidate):
                return _render(fmt, literal + candidate)
    # Some published formats are too narrow (IE Eircodes mix letters and digits): the
    # country's regex has the last word, and then the code is kept as typed (upper case).
    if regex and country not in _PARTIAL_REGEX and _regex(regex).match(raw):
        return raw
    return None


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:
        return re.compile(r"(?!)")


def _lookup_key(info: CountryInfo, display: str) -> str:
    compact = compact_code(display)
    if info.mode == "area":
        return area_key(info.country, display)
    if info.mode == "province":
        return compact[:2]
    if info.country == "US":
        return compact[:5]
    return compact


# Input localities repeat (every "Paris"): their keys are cached.
_key = lru_cache(maxsize=65536)(locality_key)


# --- locality matching ---------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _alt_keys(name: str, key: str, country: str, reference: bool) -> frozenset[str]:
    """Other keys a name may be written as: its parts, its base without qualifiers…"""
    alts: set[str] = set()
    parts = re.split(r"[,(/]", name)
    if len(parts) > 1:
        for part in parts:
            part_key = _key(part)
            if len(part_key) >= 3 and part_key not in _ARTICLES:
                alts.add(part_key)
    if country in _GERMANIC:
        qualifier = _QUALIFIER.search(key)
        if qualifier and qualifier.start() > 0:
            alts.add(key[: qualifier.start()])
    article = _LEADING_ARTICLE.match(key)
    if article:
        alts.add(key[article.end() :])
    marker = (_REF_MARKER if reference else _INPUT_MARKER).search(key)
    if marker and marker.start() > 0:
        alts.add(key[: marker.start()])
    if country in _GERMANIC:
        alts |= {_umlaut_fold(k) for k in (*alts, key)}
    alts.discard(key)
    return frozenset(alts)


def _umlaut_fold(key: str) -> str:
    return key.replace("ae", "a").replace("oe", "o").replace("ue", "u")


def _match(places: tuple[Place, ...], name: str, key: str, country: str) -> list[Place]:
    exact = [p for p in places if p.key == key]
    if exact:
        return exact
    mine = _alt_keys(name, key, country, False) | (
        {_umlaut_fold(key)} if country in _GERMANIC else set()
    )
    found = []
    for place in places:
        theirs = _alt_keys(place.locality, place.key, country, True)
        if key in theirs or place.key in mine or (mine & theirs):
            found.append(place)
    return found


def _fuzzy(places: tuple[Place, ...], key: str) -> list[Place]:
    """Places one or two typing errors away, if they all name the same place."""
    limit = 1 if len(key) < 9 else 2
    best, found = limit + 1, []
    digits = _DIGITS.sub("", key)
    for place in places:
        if _DIGITS.sub("", place.key) != digits:
            continue  # "Paris 12" is not a typo of "Paris 11"
        distance = Levenshtein.distance(key, place.key, score_cutoff=limit)
        if distance < best:
            best, found = distance, [place]
        elif distance == best:
            found.append(place)
    if best > limit or len({p.group for p in found}) != 1:
        return []
    return found


def _primary(places: tuple[Place, ...] | list[Place], group: str) -> Place:
    same = [p for p in places if p.group == group]
    return next((p for p in same if p.kind == "primary"), same[0])


def _expected(places: tuple[Place, ...]) -> tuple[str, ...]:
    names: list[str] = []
    for place in places:
        if place.kind == "primary" and place.locality not in names:
            names.append(place.locality)
    return tuple(names)


# --- the check -----------------------------------------------------------------------------


def check_address(
    country: str | None,
    postal_code: str | None,
    locality: str | None,
    region: str | None = None,
    *,
    phone: str | None = None,
    reference: Reference | None = None,
) -> AddressCheck:
    """Check postal code ↔ locality consistency and complete what is missing.

    ``country`` is an ISO 3166 alpha-2 code; when it is empty, the country of ``phone``
    (E.164) is used and reported as a change. ``reference`` defaults to the installed one;
    without it every check is ``unknown`` ("postal reference not installed…").
    """
    st = _State(
        country=(clean_text(country) or "").upper() or None,
        postal_code=clean_text(postal_code),
        locality=clean_text(locality),
        region=clean_text(region),
    )
    if st.country in _COUNTRY_ALIASES:
        fixed = _COUNTRY_ALIASES[st.country]
        st.changes.append(f"country code corrected: {st.country} → {fixed}")
        st.country = fixed
    if st.country is None:
        derived = country_from_phone(phone)
        if derived is None:
            return st.done(AddressStatus.UNKNOWN, "country missing")
        st.country = derived
        st.changes.append(f"country completed from the phone prefix: {derived}")
    ref = reference or get_reference()
    if ref is None:
        return st.done(AddressStatus.UNKNOWN, NOT_INSTALLED)
    info = ref.country(st.country)
    if info is None:
        return st.done(
            AddressStatus.UNKNOWN,
            f"no postal reference for country {st.country} (unknown code, or no postal codes)",
        )
    st.sources = info.source_labels
    if st.postal_code is None and st.locality is None:
        return st.done(AddressStatus.UNKNOWN, "no postal code or locality to check")
    if st.postal_code is None:
        return _complete_code(st, ref, info)
    return _check_code(st, ref, info)


def _check_code(st: _State, ref: Reference, info: CountryInfo) -> AddressCheck:
    assert st.postal_code is not None and st.country is not None
    raw = st.postal_code
    display = _format(info, raw)
    places: tuple[Place, ...] = ()
    if info.mode != "format":
        if display is not None:
            places = ref.places(info.country, _lookup_key(info, display))
        if not places and display is None:
            places = ref.places(info.country, compact_code(raw))
            display = places[0].code if places else None
        if not places and compact_code(raw).isdigit():
            widths = {f.count("#") for f in info.formats if set(f) <= set("# -")}
            for width in sorted(widths):
                padded = compact_code(raw).zfill(width)
                if width > len(compact_code(raw)) and (
                    found := ref.places(info.country, _lookup_key(info, padded))
                ):
                    places, display = found, _format(info, padded) or padded
                    break
    if display is None:
        return st.done(
            AddressStatus.SUSPECT,
            f"postal code {raw!r} does not fit the {info.country} format ({_join(info.formats)})",
            "format",
            info.formats,
        )
    if display != raw:
        st.changes.append(f"postal code reformatted: {raw!r} → {display!r}")
        st.postal_code = display
    if info.mode == "format":
        return st.done(
            AddressStatus.UNKNOWN,
            f"postal code format valid; no locality reference for {info.country}",
            "format",
        )
    if not places:
        return _unknown_code(st, ref, info, display)
    if info.locality_level == "none":
        where = places[0]
        st.use_place(where)
        return st.done(
            AddressStatus.VALID,
            f"format and postcode area checked only ({where.code}: {where.locality}); "
            f"no open full postcode list exists for {info.country}, so the locality is "
            "not verified",
            "area",
        )
    if st.locality is None:
        return _complete_locality(st, info, places)
    return _check_locality(st, ref, info, places)


def _unknown_code(st: _State, ref: Reference, info: CountryInfo, display: str) -> AddressCheck:
    assert st.country is not None
    what = "postcode area" if info.mode == "area" else "postal code"
    if info.mode == "province":
        return st.done(
            AddressStatus.SUSPECT,
            f"postal code {display}: province {display[:2]} does not exist in ES",
            "province",
        )
    if st.locality and "cedex" in st.locality.casefold():
        return st.done(
            AddressStatus.UNKNOWN,
            f"CEDEX code {display} is not in the reference (it lists geographic codes only)",
            "format",
        )
    shown = area_key(info.country, display) if info.mode == "area" else display
    if info.coverage != "complete":
        return st.done(
            AddressStatus.UNKNOWN,
            f"{what} {shown} is not in the {info.country} reference, which is incomplete; "
            "format valid",
            "format",
        )
    hint: tuple[str, ...] = ()
    detail = f"{what} {shown} does not exist in {info.country}"
    if st.locality:
        hint = _codes_of(ref, info, _key(st.locality))
        if hint:
            detail += f"; {st.locality} has {_join(hint)}"
    return st.done(AddressStatus.SUSPECT, detail, _level(info), hint)


def _codes_of(ref: Reference, info: CountryInfo, key: str) -> tuple[str, ...]:
    codes = ref.keys_for_locality(info.country, key)
    return tuple(ref.places(info.country, code)[0].code for code in codes)


def _level(info: CountryInfo) -> str:
    return {"area": "area", "province": "province"}.get(info.mode, "locality")


def _complete_locality(st: _State, info: CountryInfo, places: tuple[Place, ...]) -> AddressCheck:
    groups = list(dict.fromkeys(p.group for p in places))
    if len(groups) == 1 and info.locality_level == "town" and info.mode != "province":
        place = _primary(places, groups[0])
        st.locality = place.locality
        st.changes.append(f"locality completed from the postal code: {place.locality}")
        st.use_place(place)
        return st.done(AddressStatus.VALID, "locality completed", _level(info))
    expected = _expected(places)
    if info.mode == "province" or info.locality_level != "town":
        return st.done(
            AddressStatus.UNKNOWN,
            f"locality missing; {st.postal_code} cannot name a single locality",
            _level(info),
            expected,
        )
    return st.done(
        AddressStatus.SUSPECT,
        f"locality missing; {st.postal_code} serves {len(groups)} localities: {_join(expected)}",
        _level(info),
        expected,
    )


def _check_locality(
    st: _State, ref: Reference, info: CountryInfo, places: tuple[Place, ...]
) -> AddressCheck:
    assert st.locality is not None and st.country is not None
    key = _key(st.locality)
    found = _match(places, st.locality, key, st.country)
    level = _level(info)
    scope = f"province {st.postal_code[:2]}" if info.mode == "province" else st.postal_code  # type: ignore[index]
    if not found and info.locality_level == "town":
        found = _fuzzy(places, key)
        if found:
            place = _primary(places, found[0].group)
            st.changes.append(f"locality spelling corrected: {st.locality!r} → {place.locality!r}")
            st.locality = place.locality
    if found:
        place = _primary(places, found[0].group)
        if found[0].kind == "deprecated" and not any(p.kind != "deprecated" for p in found):
            st.changes.append(
                f"locality {st.locality!r} is not a postal name for {st.postal_code}: "
                f"replaced by {place.locality!r}"
            )
            st.locality = place.locality
        st.use_place(place)
        mismatch = _region_mismatch(st.region, place.region)
        if mismatch:
            return st.done(AddressStatus.SUSPECT, mismatch, level, (place.region or "",))
        detail = f"{st.locality} matches {scope}"
        if info.mode == "province":
            detail += " (checked at province level: no full ES postal code list is available)"
        return st.done(AddressStatus.VALID, detail, level)
    expected = _expected(places)
    if info.mode == "province":
        elsewhere = _codes_of(ref, info, key)
        if not elsewhere:
            return st.done(
                AddressStatus.UNKNOWN,
                f"{st.locality} is not a municipality of {scope} in the reference",
                level,
            )
        return st.done(
            AddressStatus.SUSPECT,
            f"{st.locality} is in province {_join(elsewhere)}, not {scope}",
            level,
            elsewhere,
        )
    detail = f"locality {st.locality!r} does not match {scope} (expected: {_join(expected)})"
    if info.locality_level != "town":
        return st.done(
            AddressStatus.UNKNOWN,
            detail + f"; the {st.country} reference names districts or post offices, "
            "so this is not flagged",
            level,
            expected,
        )
    if info.mode == "full":
        elsewhere = _codes_of(ref, info, key)
        if elsewhere:
            detail += f"; {st.locality} has {_join(elsewhere)}"
    return st.done(AddressStatus.SUSPECT, detail, level, expected)


def _region_mismatch(given: str | None, reference: str | None) -> str | None:
    """Regions are compared only as codes (``NY``, ``BY``); names are not mapped."""
    if not given or not reference or len(given) > 3 or given.upper() == reference.upper():
        return None
    return f"region {given} does not match the postal code (expected {reference})"


def _complete_code(st: _State, ref: Reference, info: CountryInfo) -> AddressCheck:
    assert st.locality is not None and st.country is not None
    if info.mode in {"format", "area"} or info.locality_level != "town":
        return st.done(
            AddressStatus.UNKNOWN,
            f"postal code missing; it cannot be completed from the locality in {st.country}",
        )
    codes = _codes_of(ref, info, _key(st.locality))
    if info.mode == "province" or not codes:
        detail = "postal code missing"
        if not codes:
            detail += f"; {st.locality} is not in the {st.country} reference"
        status = AddressStatus.SUSPECT if info.coverage == "complete" else AddressStatus.UNKNOWN
        return st.done(status, detail)
    if len(codes) > 1:
        return st.done(
            AddressStatus.SUSPECT,
            f"postal code missing; {st.locality} has {_join(codes)}",
            "locality",
            codes,
        )
    places = ref.places(info.country, compact_code(codes[0]))
    place = _primary(places, _match(places, st.locality, _key(st.locality), st.country)[0].group)
    st.postal_code = codes[0]
    st.changes.append(f"postal code completed from the locality: {codes[0]}")
    st.use_place(place)
    return st.done(AddressStatus.VALID, "postal code completed", "locality")
