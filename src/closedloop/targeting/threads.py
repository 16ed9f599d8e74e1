"""Model fitting on one thread.

scikit-learn's gradient boosting runs on OpenMP threads. On a machine whose cores are busy
with other work, those threads spin waiting for each other: a propensity fit on 5,000
persons took 60 CPU-seconds and 8 minutes of wall time at a load of 12 on two cores, against
3.5 CPU-seconds on one thread, with the same model (its histograms are summed per feature,
so the result does not depend on the number of threads).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_thread() -> Iterator[None]:
    """Run OpenMP and BLAS code (model fits and predictions) on a single thread."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=1):
        yield
