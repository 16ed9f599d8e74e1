"""The import's second stage, mapping: a file's columns to the fields of a kind of record.

``fields`` declares each kind's fields (persons' from :mod:`closedloop.contacts.fields`),
``synonyms`` the column names each field is known by (in several languages), ``mapping`` the
suggestion and resolution of a file's mapping, and ``profiles`` the mappings saved by name.
It imports only the reading stage below it.
"""
