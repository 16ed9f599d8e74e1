"""Segments (M10): whom to address. A segment is a saved rule over persons (dynamic, evaluated
when used) or a frozen list of persons (a snapshot, with the rule or analysis it came from).

The front door for other packages:

* :func:`freeze_members` — a snapshot segment from a list of person ids and a description of
  its origin (a propensity top-N, a cluster…).
* :func:`member_ids` — the members of a segment now (a dynamic one's rule evaluated, a
  snapshot's frozen members); :func:`member_page` — one page of them, paged by the
  database; :func:`count` / :func:`rule_member_ids` — the same for a rule.
* :func:`parse_rules` — a JSON rule checked into the typed tree (errors name the rule path);
  :func:`rule_schema` — its JSON Schema.
* :func:`get_segment`, :func:`list_segments`, :func:`delete_segment`.
"""

from closedloop.segments.check import parse_rules
from closedloop.segments.evaluate import (
    compile_sql,
    count,
    member_ids,
    member_page,
    rule_member_ids,
)
from closedloop.segments.models import Segment, SegmentMember
from closedloop.segments.rules import Rule, rule_schema
from closedloop.segments.service import (
    DYNAMIC,
    SNAPSHOT,
    create_segment,
    delete_segment,
    freeze_members,
    get_segment,
    list_segments,
    segment_dict,
    snapshot_segment,
    update_segment,
)

__all__ = [
    "DYNAMIC",
    "SNAPSHOT",
    "Rule",
    "Segment",
    "SegmentMember",
    "compile_sql",
    "count",
    "create_segment",
    "delete_segment",
    "freeze_members",
    "get_segment",
    "list_segments",
    "member_ids",
    "member_page",
    "parse_rules",
    "rule_member_ids",
    "rule_schema",
    "segment_dict",
    "snapshot_segment",
    "update_segment",
]
