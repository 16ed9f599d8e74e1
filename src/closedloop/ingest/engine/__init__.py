"""The import's fifth stage, the engine: a file's rows through the stages, chunk by chunk.

``chunks`` is the chunk loop of one batch (transactions, checkpoints, retries); big persons
and organisations files go through ``pipeline``: ``readahead`` reads, keys and hashes in a
process of its own, ``parallel`` validates in worker processes, and the main process writes
each chunk in file order. It imports only the stages below it.
"""
