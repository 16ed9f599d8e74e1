"""Names as people write them: trimmed, cased when typed all in capitals or all in lower case,
particles kept lower ("van der Berg", "de la Fontaine"), "McDonald" and "O'Brien" restored,
and whole names split into salutation, given name and family name.

A name typed in mixed case ("McDonald", "DeVito", "van Gogh") is kept as typed: its author
knew better than any rule.
"""

from __future__ import annotations

import re
from functools import lru_cache

from closedloop.contacts.normalize import clean_text, is_cjk

PARTICLES = frozenset(
    {
        "van", "von", "der", "den", "de", "del", "della", "degli", "di", "da", "das", "do",
        "dos", "du", "des", "la", "le", "lo", "ten", "ter", "zu", "zum", "zur", "y", "e",
        "af", "av", "bin", "ibn", "al", "el",
    }
)  # fmt: skip
SALUTATIONS = frozenset(
    {
        "m", "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "mme", "mlle", "mmes", "me",
        "monsieur", "madame", "mademoiselle", "herr", "frau", "sr", "sra", "srta", "don",
        "dona", "doña", "dl", "dna", "d-na", "d-l", "domnul", "doamna", "doamnă", "sir",
        "dame",
    }
)  # fmt: skip
#: Chinese family names of two characters (the rest are one character).
CJK_COMPOUND = frozenset(
    {
        "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
        "宇文", "司徒", "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里",
    }
)  # fmt: skip
_WORD = re.compile(r"([\s\-'’]+)")


def _cap(word: str) -> str:
    low = word.lower()
    if low.startswith("mc") and len(low) > 3:
        return "Mc" + low[2:].capitalize()
    return low.capitalize()


def _case_words(text: str, family: bool) -> str:
    parts = _WORD.split(text)
    out: list[str] = []
    words_seen = 0
    for i, part in enumerate(parts):
        if i % 2 == 1:
            out.append(part)
            continue
        if not part:
            out.append(part)
            continue
        low = part.lower()
        next_sep = parts[i + 1] if i + 1 < len(parts) else ""
        is_last = all(not p for p in parts[i + 1 :: 2])
        if next_sep in ("'", "’") and low in ("d", "l") and not is_last:
            out.append(low)  # d'Artagnan, l'Hermite
        elif next_sep in ("'", "’") and low == "o":
            out.append("O")  # O'Brien
        elif low in PARTICLES and not is_last and (family or words_seen > 0):
            out.append(low)
        else:
            out.append(_cap(part))
        words_seen += 1
    return "".join(out)


@lru_cache(maxsize=65536)
def case_name(value: str, family: bool = False) -> str:
    """``"DUPONT"`` → ``"Dupont"``, ``"VAN DER BERG"`` → ``"van der Berg"``,
    ``"jean-pierre"`` → ``"Jean-Pierre"``; a mixed-case name is left as typed."""
    letters = [ch for ch in value if ch.isalpha()]
    if not letters or is_cjk(value):
        return value
    if not (all(ch.isupper() for ch in letters) or all(ch.islower() for ch in letters)):
        return value
    if not any(ch.lower() != ch.upper() for ch in letters):
        return value  # a script without case
    return _case_words(value, family)


def clean_name(value: str | None, family: bool = False) -> str | None:
    """Trimmed, spaces collapsed and cased; None when empty."""
    text = clean_text(value)
    return case_name(text, family) if text else None


def _is_salutation(word: str) -> bool:
    return word.lower().rstrip(".") in SALUTATIONS


def split_full_name(value: str) -> tuple[str | None, str | None, str | None]:
    """(salutation, given name, family name) of a whole name.

    "Dupont, Jean" and "DUPONT Jean" (a family name in capitals before a cased one) put the
    family name first; "Jean-Pierre de la Fontaine" starts the family name at the particle;
    "王伟" is split after its one- or two-character family name; otherwise the last word is
    the family name.
    """
    text = clean_text(value)
    if not text:
        return None, None, None
    if is_cjk(text) and " " not in text:
        cut = 2 if text[:2] in CJK_COMPOUND and len(text) > 2 else 1
        return None, text[cut:] or None, text[:cut]
    salutation = None
    if "," in text:
        family, _, given = (p.strip() for p in text.partition(","))
        words = given.split()
        if words and _is_salutation(words[0]) and len(words) > 1:
            salutation, given = words[0], " ".join(words[1:])
        return salutation, clean_name(given) if given else None, clean_name(family, True)
    words = text.split()
    if len(words) > 1 and _is_salutation(words[0]):
        salutation, words = words[0], words[1:]
    if len(words) == 1:
        return salutation, None, clean_name(words[0], True)
    caps = [w for w in words if w.isupper() and len(w) > 1]
    if caps and len(caps) < len(words):
        # French/Romanian lists: the family name is the word(s) in capitals.
        family = " ".join(w for w in words if w in caps)
        given = " ".join(w for w in words if w not in caps)
        return salutation, clean_name(given), clean_name(family, True)
    for i in range(1, len(words) - 1):
        if words[i].lower() in PARTICLES:
            return (
                salutation,
                clean_name(" ".join(words[:i])),
                clean_name(" ".join(words[i:]), True),
            )
    return salutation, clean_name(" ".join(words[:-1])), clean_name(words[-1], True)
