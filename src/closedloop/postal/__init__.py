"""Offline postal reference: postal code ↔ locality checks and completion (M6, M7).

The reference is built at install time from registry packages (``closedloop postal build``)
and never downloaded at run time. See ``docs/concepts/postal-reference.md``.
"""

from closedloop.postal.check import AddressCheck, check_address, country_from_phone
from closedloop.postal.reference import (
    NOT_INSTALLED,
    Reference,
    get_reference,
    locality_key,
    reset_reference,
)

__all__ = [
    "NOT_INSTALLED",
    "AddressCheck",
    "Reference",
    "check_address",
    "country_from_phone",
    "get_reference",
    "locality_key",
    "reset_reference",
]
