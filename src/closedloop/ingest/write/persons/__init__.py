"""Persons and organisations, the import's hot path.

``importer`` (:class:`~closedloop.ingest.write.persons.importer.PartyImporter`) drives a
chunk: keys and hashes the rows, classifies them, validates the changed and new ones and
writes them; ``classify`` is what classifying works with (where a kind is stored, what the
store holds for the rows' keys, the classified chunk); ``plan`` is what the updates of
stored records write, each with its before-image; ``points`` the contact points (emails,
phones, addresses) of new and changed records; ``update`` applies changes field by field.
"""
