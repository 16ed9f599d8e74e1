"""Turn person records into the standardised frame the dedupe model compares (pure pandas).

Input: one row per person with any of the columns below (aliases in brackets)::

    record_id [unique_id, id, rec_id]      given_name [first_name, forename]
    family_name [surname, last_name]       birth_date [date_of_birth, dob]
    email   phone [mobile]                 street_number [house_number]
    street [address_line, address_1, line1]  address_line2 [address_2, line2]
    locality [suburb, city, town]          postal_code [postcode, zip]
    region [state]  country                national_id [soc_sec_id, ssn]
    customer_number [customer_id]          id_<anything> (other identifiers)

Output (one row per input row, same order): ``unique_id`` and the columns named in
:data:`PREPARED_COLUMNS`, all strings or missing. Names are search keys
(:func:`closedloop.contacts.normalize.search_key`) with Chinese transliterated to pinyin and
Cyrillic to Latin, punctuation removed and spaces dropped (``"Mc Carthy"`` = ``"mccarthy"``);
each has a metaphone code, given names a nickname group (Bill → william) and an initial.
Work is done once per distinct value, so a million rows with repeated names stay cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING

import jellyfish

from closedloop.contacts.normalize import search_key

if TYPE_CHECKING:  # pandas is loaded by the frame functions only (the online check is scalar)
    import pandas as pd

# ---------------------------------------------------------------------------------------------
# Column names

ALIASES: dict[str, tuple[str, ...]] = {
    "record_id": ("unique_id", "id", "rec_id", "person_id"),
    "given_name": ("first_name", "forename", "given"),
    "family_name": ("surname", "last_name", "family"),
    "birth_date": ("date_of_birth", "dob", "birthdate"),
    "email": ("email_address", "mail"),
    "phone": ("mobile", "phone_number", "telephone"),
    "street_number": ("house_number", "number"),
    "street": ("address_line", "address_1", "line1", "address"),
    "address_line2": ("address_2", "line2"),
    "locality": ("suburb", "city", "town"),
    "postal_code": ("postcode", "zip", "zip_code"),
    "region": ("state", "county"),
    "country": ("country_code",),
    "gender": ("sex",),
    "national_id": ("soc_sec_id", "ssn", "national_number"),
    "customer_number": ("customer_id", "customer_no"),
}

# Identifier attributes and the prepared column each becomes.
IDENTIFIERS: dict[str, str] = {"national_id": "id_national", "customer_number": "id_customer"}

PREPARED_COLUMNS: tuple[str, ...] = (
    "given",
    "given_first",
    "given_canon",
    "given_phon",
    "given_initial",
    "family",
    "family_phon",
    "dob",
    "dob_year",
    "email",
    "email_user",
    "phone",
    "street_number",
    "street",
    "street_phon",
    "line2",
    "locality",
    "postcode",
    "region",
    "country",
    "gender",
    # blocking helpers
    "name_pair_phon",
    "initials_pair",
    "family_prefix",
    "street_prefix",
    "address_pair",
)

_MISSING = {"", "nan", "none", "null", "n/a", "na", "-", "--", "?", "unknown", "nat", "<na>"}

# ---------------------------------------------------------------------------------------------
# Small own tables

# Given-name diminutives and variants in English, French, German, Spanish and Romanian,
# grouped under one canonical form. Agreement on the group is evidence (its own model
# level, with a learnt weight), never proof.
_NICKNAME_GROUPS: dict[str, tuple[str, ...]] = {
    "alexander": ("alex", "alexandre", "alexandru", "alejandro", "sandro", "sasha", "xander"),
    "alexandra": ("alexa", "sandra", "alejandra", "sandrine", "alexandrina"),
    "andrew": ("andy", "drew", "andre", "andreas", "andres", "andrei"),
    "anne": ("ann", "anna", "annie", "anita", "ana", "anja", "annette", "nancy"),
    "anthony": ("tony", "antoine", "anton", "antonio", "toni"),
    "benjamin": ("ben", "benny", "benji"),
    "catherine": (
        "cathy",
        "kate",
        "katie",
        "katherine",
        "kathryn",
        "katharina",
        "catalina",
        "ecaterina",
        "kathy",
        "katrin",
        "katja",
        "kat",
    ),
    "charles": ("charlie", "chuck", "carl", "karl", "carlos", "chas"),
    "christina": ("christine", "kristina", "cristina", "tina", "christiane", "kirsten"),
    "christopher": (
        "chris",
        "kit",
        "christophe",
        "christoph",
        "cristobal",
        "cristian",
        "christian",
    ),
    "daniel": ("dan", "danny", "dani"),
    "david": ("dave", "davy"),
    "dorothy": ("dot", "dottie", "dorothea", "dorothee"),
    "edward": ("ed", "eddie", "ted", "teddy", "edouard", "eduard", "eduardo", "ned"),
    "elizabeth": (
        "liz",
        "lizzie",
        "beth",
        "betty",
        "betsy",
        "eliza",
        "elisabeth",
        "elise",
        "elsa",
        "lisa",
        "elisa",
        "isabel",
        "isabelle",
        "ilse",
        "elisabeta",
    ),
    "emily": ("emmy", "emilie", "emilia"),
    "frances": ("fran", "francoise", "francisca", "franziska", "frankie"),
    "francis": ("frank", "franz", "francois", "francisco", "paco", "francesco"),
    "frederick": ("fred", "freddie", "freddy", "frederic", "friedrich", "fritz", "federico"),
    "george": ("georges", "georg", "jorge", "gheorghe", "georgie"),
    "gregory": ("greg", "gregoire", "gregor", "gregorio", "grigore"),
    "henry": ("harry", "hank", "henri", "heinrich", "heinz", "enrique", "henrik"),
    "jacob": ("jake", "jakob", "jacobo", "iacob"),
    "james": ("jim", "jimmy", "jamie", "jaime", "jacques", "diego"),
    "jennifer": ("jen", "jenny", "jenna", "jenn"),
    "john": (
        "jack",
        "johnny",
        "jon",
        "johann",
        "johannes",
        "hans",
        "juan",
        "ion",
        "ioan",
        "ionut",
        "jonny",
        "jean",
        "sean",
        "ivan",
        "giovanni",
    ),
    "joseph": ("joe", "joey", "jose", "pepe", "josef", "sepp", "iosif", "giuseppe"),
    "julia": ("julie", "juliette", "iulia", "julienne"),
    "lawrence": ("larry", "laurent", "lorenz", "lorenzo", "laurentiu", "laurence"),
    "margaret": (
        "maggie",
        "meg",
        "peggy",
        "marge",
        "margot",
        "marguerite",
        "margarete",
        "margarita",
        "greta",
        "gretchen",
        "madge",
    ),
    "maria": (
        "mary",
        "marie",
        "mariana",
        "marion",
        "maureen",
        "molly",
        "polly",
        "mia",
        "maja",
        "mimi",
    ),
    "matthew": ("matt", "matty", "mathieu", "matthieu", "matthias", "mateo", "matei", "mathias"),
    "michael": ("mike", "mikey", "mick", "mickey", "michel", "miguel", "mihai", "mihail", "michi"),
    "nicholas": ("nick", "nicky", "nico", "nicolas", "nikolaus", "klaus", "nicolae", "nicu"),
    "patricia": ("pat", "patty", "patsy", "trish", "tricia", "patrizia"),
    "patrick": ("paddy", "patrice", "patricio", "patrik"),
    "peter": ("pete", "pierre", "piet", "pedro", "petru", "petre"),
    "philip": ("phil", "philippe", "philipp", "felipe", "pip", "filip"),
    "richard": ("rich", "rick", "ricky", "dick", "richie", "ricardo"),
    "robert": ("rob", "robbie", "bob", "bobby", "bert", "roberto", "robby"),
    "samuel": ("sam", "sammy"),
    "stephen": (
        "steve",
        "steven",
        "stevie",
        "stephan",
        "stefan",
        "etienne",
        "esteban",
        "stephane",
        "stefano",
    ),
    "susan": ("sue", "susie", "suzanne", "susanne", "susana", "suzy", "susanna"),
    "theodore": ("theo", "teodor", "theodor"),
    "thomas": ("tom", "tommy", "thom", "tomas", "toma"),
    "victoria": ("vicky", "vicki", "tori", "viktoria"),
    "william": (
        "will",
        "bill",
        "billy",
        "willy",
        "willie",
        "liam",
        "wilhelm",
        "guillaume",
        "guillermo",
        "willem",
    ),
    "dumitru": ("dumi", "mitica", "dimitri", "dimitrie"),
    "constantin": ("costel", "costica", "costin", "konstantin", "constantine"),
    "gabriel": ("gabi", "gaby"),
    "vasile": ("vasilica", "vasi"),
}


def _nickname_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for canonical, variants in _NICKNAME_GROUPS.items():
        table.setdefault(canonical, canonical)
        for variant in variants:
            table.setdefault(variant, canonical)  # a name listed twice keeps its first group
    return table


NICKNAMES: dict[str, str] = _nickname_table()

# Cyrillic (Russian, Ukrainian, Bulgarian, Serbian) to Latin, close to the passport schemes.
_CYRILLIC = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
        "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
        "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
        "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu",
        "я": "ia", "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ј": "j", "љ": "lj", "њ": "nj",
        "ћ": "c", "ђ": "dj", "џ": "dz",
    }
)  # fmt: skip

# Honorifics dropped in front of a given name ("Dr Anna" = "Anna").
_TITLES = {
    "mr",
    "mrs",
    "ms",
    "miss",
    "dr",
    "prof",
    "herr",
    "frau",
    "mme",
    "mlle",
    "sr",
    "sra",
    "dl",
    "dna",
    "doamna",
    "domnul",
    "monsieur",
    "madame",
    "don",
    "dona",
    "sir",
}

# Street and locality abbreviations expanded before comparing.
_STREET_WORDS = {
    "st": "street", "str": "strasse", "rd": "road", "ave": "avenue", "av": "avenue",
    "bd": "boulevard", "bld": "boulevard", "blvd": "boulevard", "pl": "place",
    "cres": "crescent", "cr": "crescent", "ct": "court", "dr": "drive", "ln": "lane",
    "cct": "circuit", "cl": "close", "sq": "square", "tce": "terrace", "hwy": "highway",
    "pde": "parade", "bvd": "boulevard", "ch": "chemin", "rte": "route", "imp": "impasse",
    "sos": "soseaua", "cal": "calea", "bdul": "bulevardul", "nr": "", "no": "",
}  # fmt: skip
_LOCALITY_WORDS = {
    "st": "saint",
    "ste": "sainte",
    "mt": "mount",
    "pt": "port",
    "nth": "north",
    "sth": "south",
    "bad": "bad",
}

_NON_LETTER = re.compile(r"[^a-z ]+")
_NON_ALNUM = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NUMBER_FIRST = re.compile(r"^(\d+[a-z]?)(?:\s*(?:bis|ter))?[\s,/-]+(.+)$")
_NUMBER_LAST = re.compile(r"^(.*?[a-z].*?)\s+(?:(?:nr|no)\s+)?(\d+[a-z]?)$")
# A line that holds the house number alone (the street left empty): "95", "12 bis", "nr 10".
_NUMBER_ONLY = re.compile(r"^(?:(?:nr|no)\s+)?(\d+[a-z]?)(?:\s*(?:bis|ter))?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DIGITS = re.compile(r"\D+")

# ---------------------------------------------------------------------------------------------
# Value-level normalisers (each maps one raw value to a key or None)


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:  # NaN
        return True
    return str(value).strip().lower() in _MISSING


def latin_key(value: object) -> str | None:
    """Search key in Latin letters: pinyin for Chinese, transliteration for Cyrillic."""
    if _is_missing(value):
        return None
    key = search_key(str(value))
    if key is None:
        return None
    if _HAN.search(key):
        # One pinyin word per run of Han characters: 欧阳娜娜 → "ouyangnana".
        parts = re.split(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)", key)
        key = " ".join(
            "".join(_pinyin(part)) if _HAN.match(part) else part for part in parts if part
        )
    return key.translate(_CYRILLIC)


def name_key(value: object) -> str | None:
    """A name as letters only, titles dropped and spaces removed ("O'Brien-Smith" → obriensmith)."""
    tokens = name_tokens(value)
    return "".join(tokens) if tokens else None


def name_tokens(value: object) -> list[str]:
    """The words of a name in Latin letters, honorifics removed."""
    key = latin_key(value)
    if key is None:
        return []
    tokens = _NON_LETTER.sub(" ", key.replace("-", " ")).split()
    while len(tokens) > 1 and tokens[0] in _TITLES:
        tokens = tokens[1:]
    return tokens


def _pinyin(text: str) -> list[str]:
    """Pinyin syllables of Chinese characters (pypinyin is loaded on the first Chinese name)."""
    from pypinyin import lazy_pinyin

    result: list[str] = lazy_pinyin(text)
    return result


def phonetic(key: str | None) -> str | None:
    """Metaphone code of a name key (jellyfish); None for an empty key."""
    if not key:
        return None
    return jellyfish.metaphone(key) or None


def canonical_given(key: str | None) -> str | None:
    """The nickname group of a given-name key (Bill, Willy, Guillaume → william) or the key."""
    if key is None:
        return None
    return NICKNAMES.get(key, key)


def birth_date_key(value: object) -> str | None:
    """Eight digits YYYYMMDD from a date, ISO string, YYYYMMDD or DD/MM/YYYY; else None.

    Impossible dates made by typing errors (19801332) are kept: the digits still compare.
    """
    if _is_missing(value):
        return None
    if isinstance(value, datetime | date):  # pandas' Timestamp is a datetime
        return value.strftime("%Y%m%d")
    text = str(value).strip()
    if text.endswith(".0"):  # a YYYYMMDD column read as floats
        text = text[:-2]
    parts = [p for p in re.split(r"[^0-9]+", text) if p]
    if len(parts) >= 3:
        first, second, third = parts[0], parts[1], parts[2]
        if len(first) == 4:  # ISO, possibly with a time after it
            year, month, day = first, second, third
        elif len(third) == 4:  # day first, as written in Europe
            day, month, year = first, second, third
        else:
            return None
        key = f"{year}{int(month):02d}{int(day):02d}"
        return key if len(key) == 8 else None
    digits = "".join(parts)
    return digits if len(digits) == 8 else None


def email_key(value: object) -> str | None:
    """Lower-cased address, or None when it is not shaped like one."""
    if _is_missing(value):
        return None
    text = str(value).strip().casefold()
    return text if _EMAIL.match(text) else None


def email_user_key(email: str | None) -> str | None:
    """The local part without +tag and dots: j.smith+shop@x.com → jsmith."""
    if email is None:
        return None
    user = email.split("@", 1)[0].split("+", 1)[0].replace(".", "")
    return user or None


def phone_key(value: object) -> str | None:
    """The last nine digits: +33 6 12 34 56 78 and 06 12 34 56 78 give the same key."""
    if _is_missing(value):
        return None
    digits = _DIGITS.sub("", str(value))
    return digits[-9:] if len(digits) >= 6 else None


_GENDERS = {
    "f": "f", "female": "f", "w": "f", "woman": "f", "femme": "f", "frau": "f", "weiblich": "f",
    "mujer": "f", "femenino": "f", "feminin": "f", "femeie": "f", "女": "f",
    "m": "m", "male": "m", "man": "m", "homme": "m", "mann": "m", "männlich": "m",
    "hombre": "m", "masculino": "m", "masculin": "m", "barbat": "m", "bărbat": "m", "男": "m",
}  # fmt: skip


def gender_key(value: object) -> str | None:
    """``f`` or ``m`` from a recorded gender (English, French, German, Spanish, Romanian,
    Chinese words or letters); None for anything else (other, unknown, empty), which never
    tells two records apart."""
    if _is_missing(value):
        return None
    return _GENDERS.get(str(value).strip().lower())


def identifier_key(value: object) -> str | None:
    """Upper case, separators removed (a float-read number loses its ".0")."""
    if _is_missing(value):
        return None
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    text = re.sub(r"[\s.\-/]+", "", text).upper()
    return text or None


def _words(value: object, table: dict[str, str]) -> list[str]:
    key = latin_key(value)
    if key is None:
        return []
    return [table.get(w, w) for w in _NON_ALNUM.sub(" ", key).split()]


def split_street(value: object) -> tuple[str | None, str | None]:
    """(house number, street words) from a street line: "12 bis rue X" or "Hauptstr. 5";
    a line holding only a number ("95", "12 bis") is a house number without a street."""
    key = latin_key(value)
    if key is None:
        return None, None
    text = _SPACES.sub(" ", _NON_ALNUM.sub(" ", key)).strip()
    alone = _NUMBER_ONLY.match(text)
    if alone:
        return alone.group(1), None
    for pattern, num_group, name_group in ((_NUMBER_FIRST, 1, 2), (_NUMBER_LAST, 2, 1)):
        found = pattern.match(text)
        if found:
            return found.group(num_group), found.group(name_group)
    return None, text or None


def street_key(words: str | None) -> str | None:
    """Street words, abbreviations expanded and spaces removed ("Hartley St" = hartleystreet)."""
    if words is None:
        return None
    key = "".join(_words(words, _STREET_WORDS))
    return key or None


def locality_key(value: object) -> str | None:
    """Locality letters, "St"/"Mt" expanded, spaces removed."""
    key = "".join(_words(value, _LOCALITY_WORDS))
    return key or None


def postcode_key(value: object) -> str | None:
    """Upper case without spaces or dashes (a float-read code loses its ".0")."""
    return identifier_key(value)


def number_key(value: object) -> str | None:
    """A house number as written, lower case, without spaces ("12 B" → 12b)."""
    if _is_missing(value):
        return None
    text = str(value).strip().lower()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    text = re.sub(r"\s+", "", text)
    return text or None


# ---------------------------------------------------------------------------------------------
# Frame level


def _resolve(df: pd.DataFrame) -> dict[str, str]:
    """Map canonical input names to the frame's own column names."""
    columns = {str(c).strip().lower(): c for c in df.columns}
    found: dict[str, str] = {}
    for name, aliases in ALIASES.items():
        for candidate in (name, *aliases):
            if candidate in columns:
                found[name] = columns[candidate]
                break
    return found


def _map_unique(series: pd.Series, fn: Callable[[object], str | None]) -> pd.Series:
    """Apply ``fn`` once per distinct value; missing values stay missing."""
    import pandas as pd

    values = series.astype(object)
    mapped = {value: fn(value) for value in pd.unique(values)}
    return values.map(mapped).astype(object)


def _column(df: pd.DataFrame, cols: dict[str, str], name: str) -> pd.Series:
    import pandas as pd

    if name in cols:
        return df[cols[name]]
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def identifier_columns(df: pd.DataFrame) -> dict[str, str]:
    """Input column → prepared column for every identifier attribute of the frame."""
    cols = _resolve(df)
    found = {cols[name]: target for name, target in IDENTIFIERS.items() if name in cols}
    for column in df.columns:
        text = str(column).strip().lower()
        if text.startswith("id_") and column not in found:
            found[column] = re.sub(r"[^a-z0-9_]", "_", text)
    return found


def prepare_persons(df: pd.DataFrame) -> pd.DataFrame:
    """Standardise person records for comparison; see the module text for the columns.

    ``record_id`` (or an alias) becomes ``unique_id`` as a string; without one, the row
    position is used. Raises ValueError when record ids repeat.
    """
    import pandas as pd

    cols = _resolve(df)
    out = pd.DataFrame(index=df.index)
    if "record_id" in cols:
        ids = df[cols["record_id"]].astype(str).str.strip()
    else:
        ids = pd.Series([str(i) for i in range(len(df))], index=df.index)
    if ids.duplicated().any():
        first = ids[ids.duplicated()].iloc[0]
        raise ValueError(f"record_id {first!r} appears more than once")
    out["unique_id"] = ids

    given_tokens = _map_unique(
        _column(df, cols, "given_name"), lambda v: " ".join(name_tokens(v)) or None
    )
    out["given"] = _map_unique(
        given_tokens, lambda v: None if v is None else str(v).replace(" ", "")
    )
    out["given_first"] = _map_unique(
        given_tokens, lambda v: None if v is None else str(v).split()[0]
    )
    out["given_canon"] = _map_unique(out["given_first"], lambda v: canonical_given(_str(v)))
    out["given_phon"] = _map_unique(out["given"], lambda v: phonetic(_str(v)))
    out["given_initial"] = _map_unique(out["given"], lambda v: None if v is None else str(v)[0])
    out["family"] = _map_unique(_column(df, cols, "family_name"), name_key)
    out["family_phon"] = _map_unique(out["family"], lambda v: phonetic(_str(v)))

    out["dob"] = _map_unique(_column(df, cols, "birth_date"), birth_date_key)
    out["dob_year"] = out["dob"].str[:4].astype(object)

    out["email"] = _map_unique(_column(df, cols, "email"), email_key)
    out["email_user"] = _map_unique(out["email"], lambda v: email_user_key(_str(v)))
    out["phone"] = _map_unique(_column(df, cols, "phone"), phone_key)

    split = _map_unique(_column(df, cols, "street"), lambda v: "\x1f".join(_split_text(v)))
    number_from_street = split.map(lambda v: (v.split("\x1f")[0] or None) if v else None)
    street_words = split.map(lambda v: (v.split("\x1f")[1] or None) if v else None)
    numbers = _map_unique(_column(df, cols, "street_number"), number_key)
    out["street_number"] = numbers.where(numbers.notna(), number_from_street).astype(object)
    out["street"] = _map_unique(street_words, lambda v: street_key(_str(v)))
    out["street_phon"] = _map_unique(out["street"], lambda v: phonetic(_str(v)))
    out["line2"] = _map_unique(_column(df, cols, "address_line2"), locality_key)
    out["locality"] = _map_unique(_column(df, cols, "locality"), locality_key)
    out["postcode"] = _map_unique(_column(df, cols, "postal_code"), postcode_key)
    out["region"] = _map_unique(_column(df, cols, "region"), locality_key)
    out["country"] = _map_unique(_column(df, cols, "country"), identifier_key)
    out["gender"] = _map_unique(_column(df, cols, "gender"), gender_key)
    for source, target in identifier_columns(df).items():
        out[target] = _map_unique(df[source], identifier_key)
        out[f"{target}_sorted"] = _map_unique(out[target], lambda v: _sorted_chars(_str(v)))
    out["name_pair_phon"] = _name_pair(out["given_phon"], out["family_phon"])
    out["initials_pair"] = _name_pair(out["given_initial"], out["family"].str[:1])
    out["family_prefix"] = out["family"].str[:3].astype(object)
    out["street_prefix"] = out["street"].str[:6].astype(object)
    out["address_pair"] = _name_pair(out["street"], out["line2"])
    return out.reset_index(drop=True).astype(object).where(lambda f: f.notna(), None)


def _str(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def _sorted_chars(value: str | None) -> str | None:
    """Characters in order: an identifier with two digits transposed keeps its key."""
    return None if value is None else "".join(sorted(value))


def _name_pair(given: pd.Series, family: pd.Series) -> pd.Series:
    """Both values in alphabetical order, so a swapped pair (given and family name, the two
    address lines) keeps its key; missing unless both are present."""

    both = given.notna() & family.notna()
    g = given.fillna("").astype(str)
    f = family.fillna("").astype(str)
    pair = (g.where(g <= f, f) + " " + f.where(g <= f, g)).astype(object)
    return pair.where(both, None)


def _split_text(value: object) -> tuple[str, str]:
    number, words = split_street(value)
    return number or "", words or ""


def present_columns(prepared: pd.DataFrame, columns: Iterable[str] | None = None) -> list[str]:
    """Prepared columns that hold at least one value (the model compares only those)."""
    names = list(columns) if columns is not None else list(prepared.columns)
    return [c for c in names if c in prepared.columns and prepared[c].notna().any()]
