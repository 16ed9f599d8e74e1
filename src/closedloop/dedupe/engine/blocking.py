"""The blocking keys of the batch engine, in a module that loads nothing heavy: the online
index (:mod:`closedloop.dedupe.keys`) derives its key kinds from the same list, so a check
at entry compares a new person with those the batch would compare it with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlockingKey:
    """One blocking rule: records that agree on every column are compared."""

    name: str
    columns: tuple[str, ...]
    why: str = ""


# Each key is cheap and bounded; together they find a duplicate whatever two fields were
# mistyped. Order matters only for reporting (a pair is credited to the first key).
BLOCKING_KEYS: tuple[BlockingKey, ...] = (
    BlockingKey("email", ("email",), "a shared address"),
    BlockingKey("phone", ("phone",), "a shared number"),
    BlockingKey("name_pair", ("name_pair_phon",), "both names by sound, in either order"),
    BlockingKey("dob_initials", ("dob", "initials_pair"), "both names mistyped, or swapped"),
    BlockingKey("given_dob", ("given_phon", "dob"), "family name changed or mistyped"),
    BlockingKey("family_dob", ("family_phon", "dob"), "given name changed or mistyped"),
    BlockingKey("family3_dob", ("family_prefix", "dob"), "family name mistyped late"),
    BlockingKey("postcode_year", ("postcode", "dob_year"), "names changed, same place"),
    BlockingKey("house", ("street_number", "street_phon"), "same house, anything else"),
    BlockingKey("address_lines", ("address_pair",), "both address lines, in either order"),
    BlockingKey("dob_number", ("dob", "street_number"), "street mistyped"),
    BlockingKey("postcode_street", ("postcode", "street_phon"), "house number missing"),
    BlockingKey("locality_street", ("locality", "street_phon"), "postcode mistyped"),
    BlockingKey("street6_postcode", ("street_prefix", "postcode"), "street mistyped late"),
    BlockingKey("street6_locality", ("street_prefix", "locality"), "street and postcode"),
    BlockingKey("dob_locality", ("dob", "locality"), "names and street changed"),
    BlockingKey("given_postcode", ("given", "postcode"), "family name and dob changed"),
    BlockingKey("given_locality", ("given", "locality"), "family name, dob, postcode"),
    BlockingKey("family3_postcode", ("family_prefix", "postcode"), "given name and dob changed"),
    BlockingKey("family_number", ("family_phon", "street_number"), "given, dob, place changed"),
    BlockingKey("email_user", ("email_user", "family_phon"), "same user at another domain"),
)


__all__ = ["BLOCKING_KEYS", "BlockingKey"]
