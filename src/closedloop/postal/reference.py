"""The postal reference built at install time, loaded lazily once per process.

The reference is one SQLite file (``postal-reference.sqlite``) in :func:`data_dir`: small
tables describe each country and the source packages (name, version, licence), and two
zlib-compressed JSON blobs per country hold its postal codes and the reverse index (locality
→ codes). A country's blob is read the first time it is needed, so a lookup is a dict access
(well under a microsecond); countries never asked for are never loaded.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from closedloop.contacts.normalize import search_key

SCHEMA_VERSION = 2
FILE_NAME = "postal-reference.sqlite"
DATA_DIR_ENV = "CLOSEDLOOP_POSTAL_DATA_DIR"
NOT_INSTALLED = "postal reference not installed: run make install (or closedloop postal build)"


#: Where the package lived before it left the duplicates package (``quality/postal/``): a
#: reference built there by an earlier ``make install`` is read until one is built here.
_LEGACY_DATA_DIR = Path(__file__).parents[1] / "quality" / "postal" / "data"


def data_dir() -> Path:
    """Directory of the built reference: ``$CLOSEDLOOP_POSTAL_DATA_DIR`` or ``postal/data/``
    (or, when only that holds one, the old ``quality/postal/data/``: deprecated)."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured)
    here = Path(__file__).with_name("data")
    if not (here / FILE_NAME).exists() and (_LEGACY_DATA_DIR / FILE_NAME).exists():
        return _LEGACY_DATA_DIR
    return here


def reference_path() -> Path:
    """Path of the reference file (it may not exist yet)."""
    return data_dir() / FILE_NAME


# --- locality keys -------------------------------------------------------------------------
# Both the reference names and the user's input go through locality_key, so "ST ETIENNE
# CEDEX 1", "Saint-Étienne" and "st etienne" meet on "st etienne".

_SEPARATORS = re.compile(r"[\s'’`´\-‐‑–—_.,;:/\\()\[\]\"«»]+")
_ORDINAL = re.compile(r"^0*(\d+)(?:er|re|ere|e|eme|ieme|em|me|st|nd|rd|th)?$")
_CEDEX = re.compile(r"\bcedex\b(?:\s+\d+)?")
_TOKENS = {
    "saint": "st",
    "sankt": "st",
    "sainte": "ste",
    "mount": "mt",
    "fort": "ft",
}
_DROPPED = frozenset({"arrondissement", "arr", "cedex"})


def locality_key(value: str | None) -> str:
    """Matching key of a locality: case, accents, punctuation, Saint/St and CEDEX folded."""
    text = search_key(value)
    if not text:
        return ""
    text = _CEDEX.sub(" ", text)
    tokens: list[str] = []
    for token in _SEPARATORS.split(text):
        if not token or token in _DROPPED:
            continue
        ordinal = _ORDINAL.match(token)
        if ordinal:
            token = ordinal.group(1)
        tokens.append(_TOKENS.get(token, token))
    return " ".join(tokens)


def compact_code(value: str | None) -> str:
    """Postal code without spaces, dashes or dots, in upper case: the lookup key."""
    if not value:
        return ""
    return _CODE_NOISE.sub("", value).upper()


_CODE_NOISE = re.compile(r"[\s\-‐‑–—.]")


def area_key(country: str, code: str) -> str:
    """Lookup key of an ``area``-mode country: GB postcode area, GG/JE/IM district, NL PC4."""
    compact = compact_code(code)
    if country == "GB":
        return _LEADING_LETTERS.match(compact).group(0)  # type: ignore[union-attr]
    if country in {"GG", "JE", "IM"}:
        return compact_code(code.split()[0]) if " " in code.strip() else compact[:-3]
    if country == "NL":
        return compact[:4]
    return compact[:3] if country == "CA" else compact


_LEADING_LETTERS = re.compile(r"[A-Z]*")


# --- reference objects ---------------------------------------------------------------------


class Place(NamedTuple):
    """One (postal code, locality name) pair of the reference."""

    code: str  # display form of the code, e.g. "00-001", "111 22", "SW"
    locality: str
    key: str  # locality_key(locality)
    kind: str  # "primary" | "alias" (accepted) | "deprecated" (accepted, corrected to primary)
    group: str  # one place under several names (FR commune code, US ZIP, …)
    region: str | None
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class SourceInfo:
    """A registry package the reference was built from."""

    package: str
    registry: str
    version: str
    licence: str
    attribution: str


@dataclass(frozen=True)
class CountryInfo:
    """How one country is checked and where its data comes from.

    ``mode``: ``full`` (code → localities), ``area`` (the code's area or district → localities,
    e.g. GB postcode area, NL 4-digit area, CA FSA), ``province`` (ES: the first two digits name
    the province; localities are checked against its municipalities) or ``format`` (no list).
    ``coverage``: ``complete`` when a code missing from the list does not exist.
    ``locality_level``: ``town`` (names are towns: a mismatch is suspect), ``district`` (names
    are districts or post offices: a mismatch stays unknown) or ``none`` (not compared).
    """

    country: str
    name: str
    mode: str
    coverage: str
    locality_level: str
    formats: tuple[str, ...]
    regex: str | None
    codes: int
    places: int
    sources: tuple[SourceInfo, ...]
    source_labels: tuple[str, ...] = ()  # "package version (licence)", shown with results


class Reference:
    """Read access to a built reference file; country data is loaded on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._packed: dict[str, dict[str, str]] = {}
        self._parsed: dict[str, dict[str, tuple[Place, ...]]] = {}
        self._reverse: dict[str, dict[str, str]] = {}
        with self._connect() as conn:
            self.meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if int(self.meta.get("schema_version", 0)) != SCHEMA_VERSION:
                raise ValueError(
                    f"{path}: schema {self.meta.get('schema_version')} is not "
                    f"{SCHEMA_VERSION}; rebuild with closedloop postal build"
                )
            sources = {
                row[0]: SourceInfo(*row[1:])
                for row in conn.execute(
                    "SELECT id, package, registry, version, licence, attribution FROM sources"
                )
            }
            self.countries: dict[str, CountryInfo] = {}
            for row in conn.execute(
                "SELECT country, name, mode, coverage, locality_level, formats, regex, codes,"
                " places, source_ids FROM countries ORDER BY country"
            ):
                self.countries[row[0]] = CountryInfo(
                    country=row[0],
                    name=row[1],
                    mode=row[2],
                    coverage=row[3],
                    locality_level=row[4],
                    formats=tuple(json.loads(row[5])),
                    regex=row[6],
                    codes=row[7],
                    places=row[8],
                    sources=tuple(sources[i] for i in json.loads(row[9])),
                    source_labels=tuple(
                        f"{sources[i].package} {sources[i].version} ({sources[i].licence})"
                        for i in json.loads(row[9])
                    ),
                )
        self.sources = tuple(sources.values())

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def country(self, country: str) -> CountryInfo | None:
        """What the reference knows about ``country`` (ISO 3166 alpha-2), or None."""
        return self.countries.get(country)

    def _blob(self, column: str, country: str) -> dict[str, str]:
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {column} FROM country_data WHERE country = ?",  # noqa: S608
                (country,),
            ).fetchone()
        if row is None:
            return {}
        packed: dict[str, str] = json.loads(zlib.decompress(row[0]))
        return packed

    def _load(self, country: str) -> dict[str, tuple[Place, ...]]:
        with self._lock:
            parsed = self._parsed.get(country)
            if parsed is None:
                self._packed[country] = self._blob("places", country)
                parsed = self._parsed[country] = {}
            return parsed

    def places(self, country: str, key: str) -> tuple[Place, ...]:
        """Places of a lookup key (compact code, or area/province key); empty if unknown."""
        parsed = self._parsed.get(country)
        if parsed is None:
            parsed = self._load(country)
        found = parsed.get(key)
        if found is None:
            packed = self._packed[country].get(key)
            if packed is None:
                return ()
            found = parsed[key] = _unpack(packed)
        return found

    def keys(self, country: str) -> tuple[str, ...]:
        """Every lookup key of ``country`` (for benchmarks and exports)."""
        self.places(country, "")
        return tuple(self._packed[country])

    def keys_for_locality(self, country: str, key: str) -> tuple[str, ...]:
        """Lookup keys (compact codes) whose places are named ``key`` (a locality key)."""
        index = self._reverse.get(country)
        if index is None:
            with self._lock:
                index = self._reverse.get(country)
                if index is None:
                    index = self._reverse[country] = self._blob("reverse", country)
        packed = index.get(key)
        return tuple(packed.split(_FIELD)) if packed else ()


# Places of one key are packed in one string ("code␟name␟key…␞code␟…"): a country loads as
# one dict of short strings (PT's 197,024 codes in a few hundred ms) and a key's places are
# unpacked on first use.
_FIELD, _RECORD = "\x1f", "\x1e"


def pack_places(rows: list[list[Any]]) -> str:
    """Pack rows (code, locality, key, kind, group, region, lat, lon) for one lookup key."""
    return _RECORD.join(
        _FIELD.join("" if value is None else str(value) for value in row) for row in rows
    )


def _unpack(packed: str) -> tuple[Place, ...]:
    places = []
    for record in packed.split(_RECORD):
        code, name, key, kind, group, region, lat, lon = record.split(_FIELD)
        places.append(
            Place(
                code, name, key, kind, group, region or None,
                float(lat) if lat else None, float(lon) if lon else None,
            )
        )  # fmt: skip
    return tuple(places)


_cache_lock = threading.Lock()
_cached: tuple[str | None, Reference | None] | None = None


def get_reference() -> Reference | None:
    """The process-wide reference, or None when it has not been built (never raises)."""
    global _cached
    setting = os.environ.get(DATA_DIR_ENV)
    cached = _cached
    if cached is not None and cached[0] == setting:
        return cached[1]
    with _cache_lock:
        path = reference_path()
        try:
            reference: Reference | None = Reference(path) if path.is_file() else None
        except (sqlite3.Error, ValueError, KeyError):
            reference = None
        _cached = (setting, reference)
        return reference


def reset_reference() -> None:
    """Forget the loaded reference (after a rebuild, or when the data dir setting changes)."""
    global _cached
    with _cache_lock:
        _cached = None
