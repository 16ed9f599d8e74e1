"""What differs between the demo's seven locales: mix, salutations, e-mail domains, phone plans.

Phone prefixes are national significant number prefixes that libphonenumber accepts for every
completion of the given length (checked again when the pools are built, see
:func:`closedloop.demo.pools.build_pools`).
"""

from __future__ import annotations

from dataclasses import dataclass

Prefixes = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class LocaleSpec:
    """Everything the generator needs to know about one locale besides Faker's names."""

    code: str
    country: str
    language: str
    weight: float
    salutations: tuple[str, str]  # female, male
    household: str
    legal_forms: tuple[str, ...]
    domains: tuple[tuple[str, float], ...]
    calling_code: str
    trunk: str
    mobile: Prefixes
    landline: Prefixes
    line1: str
    line2: tuple[str, ...]
    tld: str


def _p(prefixes: str, rest: int) -> Prefixes:
    return tuple((p, rest) for p in prefixes.split())


# fmt: off
LOCALES: tuple[LocaleSpec, ...] = (
    LocaleSpec(
        "fr_FR", "FR", "fr", 0.35, ("Mme", "M."), "Famille {}", ("SARL", "SAS", "SA", "EURL"),
        (("gmail.com", 35), ("orange.fr", 20), ("free.fr", 12), ("sfr.fr", 8),
         ("laposte.net", 8), ("hotmail.fr", 8), ("yahoo.fr", 5), ("wanadoo.fr", 4)),
        "33", "0",
        _p("60 61 62 64 65 66 67 68 73 74 75 76 77 78", 7),
        _p("1 3", 8) + _p("24 41 47 55 56", 7),
        "{n} {s}", ("Appt {a}", "Bât. {L}", "Résidence {L}"), "fr",
    ),
    LocaleSpec(
        "de_DE", "DE", "de", 0.15, ("Frau", "Herr"), "Familie {}",
        ("GmbH", "AG", "KG", "GmbH & Co. KG"),
        (("gmail.com", 25), ("web.de", 22), ("gmx.de", 22), ("t-online.de", 12),
         ("outlook.de", 7), ("yahoo.de", 5), ("freenet.de", 4), ("posteo.de", 3)),
        "49", "0",
        _p("151 152 157 176", 8) + _p("160 170 171 172 175", 7),
        _p("30 40 69 89", 8) + _p("221 711", 7),
        "{s} {n}", ("{a}. OG", "Hinterhaus", "Wohnung {a}"), "de",
    ),
    LocaleSpec(
        "es_ES", "ES", "es", 0.12, ("Sra.", "Sr."), "Familia {}", ("S.L.", "S.A.", "S.L.U."),
        (("gmail.com", 45), ("hotmail.com", 20), ("yahoo.es", 12), ("outlook.es", 10),
         ("telefonica.net", 6), ("movistar.es", 4), ("icloud.com", 3)),
        "34", "",
        _p("6", 8) + _p("71 72", 7),
        _p("91 93 95 96", 7),
        "{s}, {n}", ("{a}º {L}", "Bajo {L}", "Ático"), "es",
    ),
    LocaleSpec(
        "ro_RO", "RO", "ro", 0.08, ("Dna", "Dl"), "Familia {}", ("S.R.L.", "S.A."),
        (("gmail.com", 50), ("yahoo.com", 25), ("yahoo.ro", 10), ("outlook.com", 5),
         ("hotmail.com", 5), ("rdslink.ro", 5)),
        "40", "0",
        _p("72 73 74 75 76", 7),
        _p("21", 7) + _p("232 256 264", 6),
        "{s} nr. {n}", ("bl. {a}, sc. {L}, ap. {a}", "ap. {a}", "et. {a}, ap. {a}"), "ro",
    ),
    LocaleSpec(
        "en_GB", "GB", "en", 0.10, ("Ms", "Mr"), "{} family", ("Ltd", "PLC", "LLP"),
        (("gmail.com", 35), ("hotmail.co.uk", 15), ("yahoo.co.uk", 12), ("outlook.com", 10),
         ("btinternet.com", 10), ("sky.com", 8), ("icloud.com", 5), ("live.co.uk", 5)),
        "44", "0",
        # no 7624, 7781, 7797…: those are the Isle of Man, Guernsey and Jersey
        _p("71 73", 8) + _p("740 746 751 757 771 772 773 775 776 777 780 787 790 795", 7),
        _p("161 203 207 208", 7) + _p("1212 1213 1314 1316", 6),
        "{n} {s}", ("Flat {a}", "Flat {a}{L}", "Unit {a}"), "co.uk",
    ),
    LocaleSpec(
        "en_US", "US", "en", 0.12, ("Ms.", "Mr."), "{} family", ("Inc.", "LLC", "Corp."),
        (("gmail.com", 45), ("yahoo.com", 18), ("hotmail.com", 10), ("outlook.com", 8),
         ("aol.com", 6), ("icloud.com", 8), ("comcast.net", 5)),
        "1", "",
        _p("212 213 214 215 303 305 312 404 415 503 512 602 612 617 619 702 713", 7),
        _p("206 210 313 408 615", 7),
        "{n} {s}", ("Apt {a}", "Suite {a}{a}", "Apt {a}{L}"), "com",
    ),
    LocaleSpec(
        "zh_CN", "CN", "zh", 0.08, ("女士", "先生"), "{}家", ("有限公司", "股份有限公司"),
        (("qq.com", 45), ("163.com", 25), ("126.com", 12), ("sina.com", 8),
         ("foxmail.com", 5), ("139.com", 5)),
        "86", "0",
        _p("130 131 135 136 138 139 150 151 158 186 188", 8),
        _p("20", 8) + _p("105 106 212 215", 7),
        "{s}{n}号", ("{a}栋{a}单元{a}0{a}室", "{a}号楼{a}0{a}室"), "cn",
    ),
)

#: Industries of demo organisations (also the choices of the ``industry`` attribute).
INDUSTRIES = (
    "retail", "manufacturing", "it_services", "healthcare", "finance", "education",
    "construction", "hospitality", "logistics", "public_sector",
)
# fmt: on


def phone_groups(country: str, national: str, mobile: bool, area: int) -> str:
    """Format a national number (with trunk prefix) the way people of ``country`` write it.

    ``area`` is the length of the trunk prefix and area code, where the country groups by it.
    """
    n = national
    if country == "US":
        return f"({n[:3]}) {n[3:6]}-{n[6:]}"
    if country == "FR":
        return " ".join(n[i : i + 2] for i in range(0, len(n), 2))
    if country == "ES":
        return f"{n[:3]} {n[3:6]} {n[6:]}"
    if country == "CN":
        return f"{n[:3]} {n[3:7]} {n[7:]}" if mobile else f"{n[:3]} {n[3:]}"
    if country == "GB":
        if mobile:
            return f"{n[:5]} {n[5:]}"
        return f"{n[:3]} {n[3:7]} {n[7:]}" if n.startswith("02") else f"{n[:4]} {n[4:7]} {n[7:]}"
    split = 4 if mobile else area  # DE, RO: area code, then the subscriber number
    return f"{n[:split]} {n[split:]}"
