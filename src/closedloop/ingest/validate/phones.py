"""Phone numbers to E.164 with their line type: libphonenumber's rules, a fifth of its time.

:func:`closedloop.contacts.normalize.normalize_phone` then ``phone_line_type`` parses each
number twice and runs libphonenumber's type patterns twice, recompiling them through the
``re`` cache each time (about 50 µs a number). Importing a million rows needs better, with the
same answers. For the usual shapes of input (digits with spaces, dots, dashes, brackets or
slashes, an optional leading ``+``), this calls the same steps of ``phonenumbers.parse`` that
depend on the country (country code, international and national prefixes, possible lengths)
and checks the type patterns with regular expressions compiled once; what depends only on the
region (its prefixes, the lengths a number may have) is resolved once per region (about 12 µs
a number). Anything else goes through ``phonenumbers.parse`` itself. Tests compare both paths
on many numbers of many countries.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberType
from phonenumbers import phonenumberutil as pnu

_FORMATTING = str.maketrans("", "", " .-()/\u00a0\u202f\t")
_TYPES = {PhoneNumberType.MOBILE: "mobile", PhoneNumberType.FIXED_LINE: "landline"}
_SKIP_LENGTH = (
    pnu.ValidationResult.TOO_SHORT,
    pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    pnu.ValidationResult.INVALID_LENGTH,
)
_OTHER_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)
_OTHER_TYPES = (
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
)
Desc = tuple[frozenset[int], re.Pattern[str] | None]


def _desc(desc: Any) -> Desc | None:
    if desc is None:
        return None
    pattern = desc.national_number_pattern
    compiled = re.compile(pattern) if pattern else None
    return frozenset(desc.possible_length or ()), compiled


def _matches(nsn: str, desc: Desc | None) -> bool:
    """libphonenumber's ``_is_number_matching_desc`` with a compiled pattern."""
    if desc is None:
        return False
    lengths, pattern = desc
    if lengths and len(nsn) not in lengths:
        return False
    return pattern is not None and pattern.fullmatch(nsn) is not None


class _Plan:
    """The type patterns of one region (or non-geographic calling code), compiled."""

    def __init__(self, metadata: Any) -> None:
        self.general = _desc(metadata.general_desc)
        self.others = [_desc(getattr(metadata, name, None)) for name in _OTHER_DESCS]
        # One pattern for the eight rare types: when it does not match, none of them does
        # (their length checks only narrow further), and most numbers are mobile or fixed.
        patterns = [d[1].pattern for d in self.others if d is not None and d[1] is not None]
        self.any_other = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
        self.fixed = _desc(metadata.fixed_line)
        self.mobile = _desc(metadata.mobile)
        self.same = bool(metadata.same_mobile_and_fixed_line_pattern)
        self.leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
        #: the region's calling code (``country_code_for_valid_region``)
        self.code = int(metadata.country_code or 0)

    def type_of(self, nsn: str) -> int:
        """libphonenumber's ``_number_type_helper``."""
        if not _matches(nsn, self.general):
            return PhoneNumberType.UNKNOWN
        if self.any_other is not None and self.any_other.fullmatch(nsn) is not None:
            for kind, desc in zip(_OTHER_TYPES, self.others, strict=True):
                if _matches(nsn, desc):
                    return kind
        if _matches(nsn, self.fixed):
            if self.same or _matches(nsn, self.mobile):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not self.same and _matches(nsn, self.mobile):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


@lru_cache(maxsize=512)
def _plan(region: str, country_code: int) -> _Plan | None:
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    return _Plan(metadata) if metadata is not None else None


def _region(country_code: int, nsn: str) -> str | None:
    """libphonenumber's ``region_code_for_number``."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return None
    if len(regions) == 1:
        return str(regions[0])
    for region in regions:
        plan = _plan(region, country_code)
        if plan is None:
            continue
        if plan.leading is not None:
            if plan.leading.match(nsn):
                return str(region)
        elif plan.type_of(nsn) != PhoneNumberType.UNKNOWN:
            return str(region)
    return None


class _Prefix:
    """The national prefix rules of one region, compiled once."""

    def __init__(self, metadata: Any) -> None:
        prefix = metadata.national_prefix_for_parsing
        self.prefix = re.compile(prefix) if prefix else None
        general = metadata.general_desc
        pattern = general.national_number_pattern if general is not None else None
        self.general = re.compile(pattern) if pattern else None
        self.transform = metadata.national_prefix_transform_rule or None

    def _viable(self, number: str) -> bool:
        return self.general is not None and self.general.fullmatch(number) is not None

    def strip(self, number: str) -> str:
        """libphonenumber's ``_maybe_strip_national_prefix_carrier_code`` (the number part)."""
        if not number or self.prefix is None:
            return number
        match = self.prefix.match(number)
        if match is None:
            return number
        viable = self._viable(number)
        groups = match.groups()
        if self.transform is None or groups[len(groups) - 1] is None:
            rest = number[match.end() :]
            return number if viable and not self._viable(rest) else rest
        transformed = self.prefix.sub(self.transform, number, count=1)
        return number if viable and not self._viable(transformed) else transformed


class _Rules:
    """How a number is read with one region's metadata, resolved once: its prefixes and the
    lengths at which a stripped national prefix is kept stripped."""

    def __init__(self, metadata: Any) -> None:
        self.metadata = metadata
        self.code = int(metadata.country_code or 0)
        self.code_text = str(self.code)
        self.prefix = _Prefix(metadata)
        # _test_number_length depends on the length alone (general description)
        self.strip_lengths = frozenset(
            n for n in range(64) if pnu._test_number_length("0" * n, metadata) not in _SKIP_LENGTH
        )
        idd = metadata.international_prefix
        self.idd = re.compile(idd) if idd else re.compile(r"(?!)")


@lru_cache(maxsize=512)
def _home(region: str) -> _Rules | None:
    """The rules of ``region`` (numbers written as dialled there), None if unknown."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    return _Rules(metadata) if metadata is not None else None


@lru_cache(maxsize=512)
def _calling(code: int) -> _Rules | None:
    """The rules of calling code ``code`` (its main region's), None if unknown."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(
        code, phonenumbers.region_code_for_country_code(code)
    )
    return _Rules(metadata) if metadata is not None else None


def _slow(value: str, country: str | None) -> tuple[str, str]:
    try:
        number = phonenumbers.parse(value, (country or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number ({exc})") from exc
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN or not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number for its country")
    e164 = f"+{number.country_code}{phonenumbers.national_significant_number(number)}"
    return e164, _TYPES.get(kind, "other")


def _extract_country_code(digits: str) -> tuple[int, str]:
    """libphonenumber's ``_extract_country_code``: calling codes are prefix-free."""
    if not digits or digits[0] == "0":
        return 0, digits
    for length in range(1, min(3, len(digits)) + 1):
        code = int(digits[:length])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code, digits[length:]
    return 0, digits


def parse_phone(value: str, country: str | None) -> tuple[str, str]:
    """(E.164, line type) of ``value`` read in ``country``; ValueError if not a valid number.

    The line type is ``mobile``, ``landline`` or ``other`` (as ``phone_line_type`` says).
    """
    text = value.strip().translate(_FORMATTING)
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not (digits.isascii() and digits.isdigit()) or not 4 <= len(digits) <= 17:
        return _slow(value, country)
    if plus:
        code, national = _extract_country_code(digits)
        rules = _calling(code) if code != 0 else None
    else:
        region = (country or "").upper()
        rules = _home(region) if region else None
        if rules is None:
            return _slow(value, country)
        if not rules.idd.match(digits) and not digits.startswith(rules.code_text):
            # Neither an international prefix nor the region's own calling code: a national
            # number (what _maybe_extract_country_code concludes, without its string work).
            code = 0
        else:
            try:
                code, national = pnu._maybe_extract_country_code(
                    digits, rules.metadata, False, PhoneNumber()
                )
            except phonenumbers.NumberParseException:
                return _slow(value, country)
        if code == 0:
            code, national = rules.code, digits
        elif phonenumbers.region_code_for_country_code(code) != region:
            rules = _calling(code)
    if rules is None or len(national) < 2:
        return _slow(value, country)
    potential = rules.prefix.strip(national)
    if len(potential) in rules.strip_lengths:
        national = potential
    if not 2 <= len(national) <= 17:
        return _slow(value, country)
    number_region = _region(code, national)
    plan = _plan(number_region, code) if number_region else None
    kind = plan.type_of(national) if plan is not None else PhoneNumberType.UNKNOWN
    if kind == PhoneNumberType.UNKNOWN:
        raise ValueError("not a valid phone number for its country")
    if number_region != "001" and plan is not None and plan.code != code:
        raise ValueError("not a valid phone number for its country")
    return f"+{code}{national}", _TYPES.get(kind, "other")
