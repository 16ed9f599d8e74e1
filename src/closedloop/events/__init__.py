"""Events and meetings (issue 17 item 7, issue 18): an event a campaign invites to, the
guests' answers and their check-in at the door.

- :mod:`.models`: :class:`Event` (time, place, capacity, organiser; attached to one
  campaign) and :class:`EventGuest` (a person's answer and check-in);
- :mod:`.service`: create, find and list events, the fields a template sees, the
  attendance list and its counts;
- :mod:`.rsvp`: answers through the signed RSVP link (capacity never exceeded; a waiting
  list) and check-ins, each stored as a response;
- :mod:`.ics`: an invitation's calendar file; :mod:`.hooks`: the campaign sender's
  ``message_invitation`` hook.

The invitations are the campaign's emails (a template that uses ``rsvp_url`` carries the
``.ics``); follow-ups target guests through the segment rule ``{"event": {"code": …,
"status": "attended" | "no_show" | "yes" …}}``.
"""
