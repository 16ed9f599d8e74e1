"""Persons, organisations, households, relationships, contact points and the attribute catalogue.

Front door (issue 15): every module here is used by other packages: :mod:`.fields` (the
person's own fields, declared once), :mod:`.models`, :mod:`.schemas`, :mod:`.service`,
:mod:`.queries`, :mod:`.normalize`, :mod:`.validation`, :mod:`.addresses` (one address
added, changed or removed) and :mod:`.attribute_values` (a person's catalogue values). A new
module that is only the package's inside should be added to a "Front door" contract in
pyproject.toml.
"""
