"""Pools of names, streets, companies and places per locale, built once with Faker.

Faker costs tens of microseconds a call, far too slow for a million persons; it is called a few
thousand times per locale here and the generators then draw from these pools with numpy. The
pools repeat Faker's weighted draws, so common names stay common.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

import numpy as np
import phonenumbers
from faker import Faker

from closedloop.contacts.normalize import search_key
from closedloop.demo.clock import Arr
from closedloop.demo.locales import LOCALES, LocaleSpec
from closedloop.demo.places import places_by_country

# Faker knows only 44 Romanian family names; these common ones keep Romanian records diverse.
_RO_FAMILY = (
    "Popescu",
    "Ionescu",
    "Popa",
    "Pop",
    "Radu",
    "Dumitru",
    "Stan",
    "Stoica",
    "Gheorghe",
    "Matei",
    "Ciobanu",
    "Rusu",
    "Munteanu",
    "Constantin",
    "Mihai",
    "Florea",
    "Dinu",
    "Tudor",
    "Ene",
    "Barbu",
    "Nistor",
    "Moldovan",
    "Lungu",
    "Toma",
    "Marin",
    "Dobre",
    "Sandu",
    "Vasile",
    "Cristea",
    "Ungureanu",
    "Diaconu",
    "Ilie",
    "Neagu",
    "Moraru",
    "Zamfir",
    "Preda",
    "Andrei",
    "Iordache",
    "Tănase",
    "Oprea",
    "Voicu",
    "Șerban",
    "Mocanu",
    "Lazăr",
    "Nedelcu",
    "Pavel",
    "Bălan",
    "Roman",
    "Mihăilă",
    "Năstase",
    "Stănescu",
    "Constantinescu",
    "Dumitrescu",
    "Georgescu",
    "Marinescu",
    "Niculescu",
    "Mureșan",
    "Bogdan",
    "Manole",
    "Rădulescu",
    "Dragomir",
    "Țurcanu",
    "Ștefănescu",
    "Grigore",
    "Anghel",
    "Vlad",
    "Petrescu",
    "Sârbu",
    "Cojocaru",
    "Țăranu",
    "Pîrvu",
    "Chiriță",
)
_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "œ": "oe"})
_UMLAUT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})


def strip_accents(value: str) -> str:
    """``value`` without combining marks (``Ștefan`` → ``Stefan``); other scripts unchanged."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_key(value: str) -> str:
    """Search key of a name, exactly as the contacts domain computes it (``search_key``)."""
    return search_key(value) or ""


def ascii_fold(value: str, german: bool = False) -> str:
    """An e-mail-safe ASCII form of a Latin name (``Müller`` → ``mueller`` in German)."""
    lowered = value.lower()
    if german:
        lowered = lowered.translate(_UMLAUT)
    folded = name_key(lowered.translate(_FOLD))
    return "".join(c for c in folded if c.isascii() and c.isalnum())


@dataclass
class LocalePool:
    """Draw tables of one locale; string arrays are numpy object arrays for fancy indexing."""

    spec: LocaleSpec
    given: tuple[Arr, Arr]  # female, male
    given_key: tuple[Arr, Arr]
    given_ascii: tuple[Arr, Arr]
    family: Arr
    family_key: Arr
    family_ascii: Arr
    romanized: tuple[Arr, Arr]  # given, family (e-mail local parts for zh_CN)
    streets: Arr
    companies: Arr
    domains: Arr
    domain_cum: Arr
    mobile: list[tuple[str, int]]
    landline: list[tuple[str, int]]
    place_locality: Arr
    place_region: Arr
    place_code: Arr
    place_lat: Arr
    place_lon: Arr
    place_cum: Arr


def _cum(weights: list[float]) -> Arr:
    arr = np.cumsum(np.asarray(weights, dtype=np.float64))
    out: Arr = arr / arr[-1]
    return out


def draw(cum: Arr, rng: np.random.Generator, size: int) -> Arr:
    """Indices drawn with the probabilities whose cumulative sums are ``cum``."""
    return np.minimum(np.searchsorted(cum, rng.random(size), side="right"), len(cum) - 1)


def _valid_prefixes(
    spec: LocaleSpec, prefixes: tuple[tuple[str, int], ...], rnd: random.Random
) -> list[tuple[str, int]]:
    """Keep the prefixes whose sample completions libphonenumber all accepts."""
    kept = []
    for prefix, rest in prefixes:
        ok = True
        for _ in range(12):
            first = str(rnd.randint(2, 9)) if spec.country == "US" else str(rnd.randint(0, 9))
            digits = first + "".join(str(rnd.randint(0, 9)) for _ in range(rest - 1))
            number = phonenumbers.parse(f"+{spec.calling_code}{prefix}{digits}")
            if not phonenumbers.is_valid_number(number):
                ok = False
                break
        if ok:
            kept.append((prefix, rest))
    if not kept:
        raise RuntimeError(f"no valid phone prefix left for {spec.country}")
    return kept


def _places(spec: LocaleSpec, rnd: random.Random) -> dict[str, Arr]:
    cols: dict[str, list[object]] = {k: [] for k in ("loc", "reg", "code", "lat", "lon", "w")}
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    for place in places_by_country()[spec.country]:
        codes: list[str] = list(place.postal_codes)
        if spec.country == "GB":  # complete outward codes with a few inward codes each
            codes = [
                f"{out} {rnd.randint(1, 9)}{rnd.choice(letters)}{rnd.choice(letters)}"
                for out in codes
                for _ in range(4)
            ]
        for code in codes:
            cols["loc"].append(place.locality)
            cols["reg"].append(place.region)
            cols["code"].append(code)
            cols["lat"].append(place.latitude)
            cols["lon"].append(place.longitude)
            cols["w"].append(place.weight / len(codes))
    return {
        "locality": np.array(cols["loc"], dtype=object),
        "region": np.array(cols["reg"], dtype=object),
        "code": np.array(cols["code"], dtype=object),
        "lat": np.array(cols["lat"], dtype=np.float64),
        "lon": np.array(cols["lon"], dtype=np.float64),
        "cum": _cum([float(w) for w in cols["w"]]),  # type: ignore[arg-type]
    }


def _objects(values: list[str]) -> Arr:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _keys(values: list[str]) -> Arr:
    return _objects([name_key(v) for v in values])


def _ascii(values: list[str], german: bool) -> Arr:
    return _objects([ascii_fold(v, german) or "client" for v in values])


def _zh_given(fake: Faker, female: bool, size: int) -> list[str]:
    """Chinese given names: Faker's are mostly one character; many real ones have two."""
    draw_one = fake.first_name_female if female else fake.first_name_male
    names = []
    for _ in range(size):
        name = draw_one()
        if len(name) == 1 and fake.random.random() < 0.55:
            name += draw_one()[-1]
        names.append(name)
    return names


def build_pools(seed: int, size: int = 1500) -> list[LocalePool]:
    """Build the draw tables of every locale, reproducibly from ``seed``."""
    pools = []
    for index, spec in enumerate(LOCALES):
        fake = Faker(spec.code)
        fake.seed_instance(seed * 100 + index)
        rnd = random.Random(seed * 100 + index)
        if spec.code == "zh_CN":
            female, male = _zh_given(fake, True, size), _zh_given(fake, False, size)
            rom_given = [fake.first_romanized_name().lower() for _ in range(300)]
            rom_family = [fake.last_romanized_name().lower() for _ in range(300)]
        else:
            female = [fake.first_name_female() for _ in range(size)]
            male = [fake.first_name_male() for _ in range(size)]
            rom_given, rom_family = ["x"], ["x"]
        family = [fake.last_name() for _ in range(2 * size)]
        if spec.code == "ro_RO":
            family = [rnd.choice(_RO_FAMILY) if rnd.random() < 0.7 else f for f in family]
        places = _places(spec, rnd)
        german = spec.code == "de_DE"
        pools.append(
            LocalePool(
                spec=spec,
                given=(_objects(female), _objects(male)),
                given_key=(_keys(female), _keys(male)),
                given_ascii=(_ascii(female, german), _ascii(male, german)),
                family=_objects(family),
                family_key=_keys(family),
                family_ascii=_ascii(family, german),
                romanized=(_objects(rom_given), _objects(rom_family)),
                streets=_objects([fake.street_name() for _ in range(size // 2)]),
                companies=_objects([fake.company() for _ in range(size)]),
                domains=_objects([d for d, _ in spec.domains]),
                domain_cum=_cum([w for _, w in spec.domains]),
                mobile=_valid_prefixes(spec, spec.mobile, rnd),
                landline=_valid_prefixes(spec, spec.landline, rnd),
                place_locality=places["locality"],
                place_region=places["region"],
                place_code=places["code"],
                place_lat=places["lat"],
                place_lon=places["lon"],
                place_cum=places["cum"],
            )
        )
    return pools
