"""Child process of :class:`closedloop.demo.pipeline.ProcessPipeline` (``python -m``).

Reads its work (context, id counters, chunk sizes, first person id) as one length-prefixed
pickle on stdin, then for each chunk takes a free spool path from stdin, writes the chunk's
rows there and prints one JSON line on stdout. Ends at the last chunk or when stdin closes.
"""

from __future__ import annotations

import gc
import json
import pickle
import sys
import traceback

from closedloop.demo.pipeline import chunk_rows, counts_of, write_spool


def main() -> int:
    """Run the spool loop; return the exit code."""
    gc.disable()  # no reference cycles here, millions of short-lived tuples
    source, sink = sys.stdin.buffer, sys.stdout
    try:
        size = int.from_bytes(source.read(8), "big")
        ctx, ids, sizes, first = pickle.loads(source.read(size))  # noqa: S301 (our parent)
        for rows in chunk_rows(ctx, ids, sizes, first):
            path = source.readline().decode().strip()
            if not path:
                return 0  # the writer stopped
            shapes = write_spool(path, rows)
            counts = dict(counts_of(rows))
            del rows
            sink.write(json.dumps({"kind": "item", "path": path, "shapes": shapes,
                                   "counts": counts}) + "\n")  # fmt: skip
            sink.flush()
        sink.write(json.dumps({"kind": "end"}) + "\n")
        sink.flush()
        return 0
    except BaseException:
        traceback.print_exc()
        sink.write(json.dumps({"kind": "error"}) + "\n")
        sink.flush()
        return 1


if __name__ == "__main__":
    sys.exit(main())
