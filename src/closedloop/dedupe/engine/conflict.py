"""The household guard: two prepared records that are different people whatever else they
share (both given names and both birth dates clearly disagree, no shared identifier).

Kept apart from :mod:`.batch` so the online check can use it without loading pandas or Splink.
"""

from __future__ import annotations

from typing import Any

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler


def _given_compatible(a: dict[str, Any], b: dict[str, Any]) -> bool:
    ga, gb = a["given"], b["given"]
    if ga is None or gb is None or ga == gb:
        return True
    if a["given_canon"] == b["given_canon"] or a["given_phon"] == b["given_phon"]:
        return True
    if (len(ga) == 1 or len(gb) == 1) and ga[0] == gb[0]:
        return True
    if JaroWinkler.similarity(ga, gb) >= 0.8:
        return True
    # Given and family names swapped on one side.
    for g, f in ((ga, b["family"]), (gb, a["family"])):
        if f is not None and JaroWinkler.similarity(g, f) >= 0.92:
            return True
    return False


def dob_compatible(a: str | None, b: str | None) -> bool:
    if a is None or b is None or a == b:
        return True
    if len(a) == 8 and len(b) == 8 and a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return True
    return bool(DamerauLevenshtein.distance(a, b) <= 2)


def identity_conflict(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when two prepared records are different people whatever else they share, unless
    an identifier (national id, customer number) is the same on both:

    - both given names and both dates of birth are present and clearly disagree; or
    - both genders are recorded and differ, and so do the given names (not one name, a
      nickname of it or an initial): Florian and Florența Cristea at one address are a
      household, even when one birth date is missing.
    """
    if gender_conflict(a, b):
        return not same_identifier(a, b)
    if _given_compatible(a, b) or dob_compatible(a["dob"], b["dob"]):
        return False
    return not same_identifier(a, b)


def gender_conflict(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Different recorded genders with different given names (see :func:`identity_conflict`)."""
    ga, gb = a.get("gender"), b.get("gender")
    if ga is None or gb is None or ga == gb:
        return False
    na, nb = a["given"], b["given"]
    if na is None or nb is None or na == nb or len(na) == 1 or len(nb) == 1:
        return False
    return bool(a["given_canon"] != b["given_canon"])


def same_identifier(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when some identifier (national id, customer number) is present and equal."""
    return any(a[k] is not None and a[k] == b.get(k) for k in a if k.startswith("id_"))


__all__ = ["dob_compatible", "gender_conflict", "identity_conflict", "same_identifier"]
