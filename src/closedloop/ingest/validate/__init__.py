"""The import's third stage, validation: a mapped row's text read as typed values, checked.

``values`` parses dates, numbers, choices, countries…; ``names``, ``phones`` and ``emails``
clean and check those; ``convert`` holds the value reader of each field type (and of
catalogue attributes); ``prepare`` turns a person's or organisation's row into what is
stored, with every problem named; ``context`` is what one run knows (options, mapping,
catalogue) and a chunk's outcome (counts, rejects, warnings). No SQLAlchemy here: this stage
runs in the validation workers. It imports only the stages below it (map, read).
"""
