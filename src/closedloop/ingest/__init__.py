"""Bringing data in: file readers, mapping profiles, validation, import batches."""
