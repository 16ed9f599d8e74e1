"""The import's top stage, the service: run, resume and roll back import batches.

``runner`` runs (or resumes) the import of a file; ``claims`` decides which batch a run takes;
``batches`` lists, shows and rolls back batches, with their rejects (``history``: what a
rollback keeps); ``background`` queues an import as a worker job; ``uploads`` keeps uploaded
files until they are imported; ``lineage`` says where a record's values came from; ``safe``
writes values that spreadsheets open safely. Other packages use these through
:mod:`closedloop.ingest` (the front door).
"""
