"""Data quality: checks, postal reference, duplicate identification and merging."""
