"""Data quality: checks, duplicate identification and merging (the postal reference is
:mod:`closedloop.postal`)."""
