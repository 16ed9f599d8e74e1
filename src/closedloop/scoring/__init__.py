"""Customer value: RFM, CLV and purchase models, lifecycle stages, scoring runs (M7–M9).

Front door (issue 15). Other packages use these modules: :mod:`.service` (score, list runs),
:mod:`.queries` (read scores and reports), :mod:`.schemas`, :mod:`.models`, :mod:`.hooks`
(plugin), :mod:`.backend`, :mod:`.expr`, :mod:`.rfm`, :mod:`.lifecycle`. The rest
(``btyd``, ``cdnow``, ``compute``, ``store``, ``value``) is the package's inside:
import-linter's "Front door: scoring" contract forbids importing it from outside.
"""
