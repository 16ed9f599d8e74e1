"""The progress messages targeting jobs store, marked for translation where a page shows them
(:class:`closedloop.i18n.Said`; the job pages write them with ``|said``).

Imported by :mod:`closedloop.targeting.jobs`, which every page showing a targeting job loads,
so that :func:`closedloop.i18n.translate_stored` knows the messages with numbers.
"""

from closedloop.i18n import N_, Said

READING = N_("Reading the orders")
TRAINING = N_("Training on the past window")
SCORING = N_("Scoring every person")
SAVING = N_("Saving the segment")
HIDING = N_("Hiding each person's last purchase")
TWO_MODELS = N_("Training the two models")
TRYING = Said(N_("Trying %(k)s clusters"))
FITTING = Said(N_("Fitting %(k)s clusters"))
