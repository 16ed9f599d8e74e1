"""The worker job kind of an import (``ingest.run``): named here, apart from the job's code,
so that the plugin hooks (loaded in every process) name it without loading the engine."""

from __future__ import annotations

from closedloop.jobs.guards import one_at_a_time

KIND = one_at_a_time("ingest.run")
