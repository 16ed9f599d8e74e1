"""The dedupe model: Splink settings (comparisons, blocking), unsupervised training, JSON file.

The model is a Fellegi–Sunter one: for each comparison (given name, family name, date of
birth, …) a pair falls into one level, and each level has an ``m`` (how often true duplicates
fall there) and a ``u`` (how often unrelated persons do). ``u`` is measured on random pairs of
the base itself, ``m`` is learnt by expectation maximisation on blocked pairs, so no labels
are needed. Every level carries a prior (m, u) so a model that could not be trained (a tiny
or very sparse base) still behaves sensibly.

Blocking uses precomputed key columns ``bk_<name>`` (see :data:`BLOCKING_KEYS`): a key that
more than ``max_block_size`` records share is dropped for those records, so a run over
50,000 "Wang Wei" compares each of them with a bounded number of others, and the other keys
(date of birth, address, identifiers) still find their duplicates.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from closedloop.dedupe.engine.blocking import BLOCKING_KEYS, BlockingKey
from closedloop.dedupe.engine.prepare import present_columns

MODEL_FORMAT = "closedloop-dedupe"
MODEL_VERSION = 1
DEFAULT_MAX_BLOCK_SIZE = 50
DEFAULT_THRESHOLD = 0.9  # match probability at or above which a pair is a duplicate

log = logging.getLogger(__name__)

Settings = dict[str, Any]


def identifier_keys(identifiers: list[str]) -> list[BlockingKey]:
    """Blocking keys of identifier columns: exact, and digits in any order (transpositions)."""
    keys: list[BlockingKey] = []
    for column in identifiers:
        keys.append(BlockingKey(column, (column,), "the same identifier"))
        keys.append(
            BlockingKey(f"{column}_anagram_year", (f"{column}_sorted", "dob_year"), "typo in id")
        )
        keys.append(
            BlockingKey(f"{column}_anagram_postcode", (f"{column}_sorted", "postcode"), "typo")
        )
    return keys


def identifier_columns_of(prepared: pd.DataFrame) -> list[str]:
    """Prepared identifier columns (``id_*``) that hold at least one value."""
    return present_columns(
        prepared, [c for c in prepared.columns if c.startswith("id_") and not c.endswith("_sorted")]
    )


def blocking_keys_for(prepared: pd.DataFrame) -> list[BlockingKey]:
    """The keys whose columns all hold values in this frame, identifiers first."""
    present = set(present_columns(prepared))
    keys = identifier_keys(identifier_columns_of(prepared)) + list(BLOCKING_KEYS)
    return [k for k in keys if all(c in present for c in k.columns)]


# ---------------------------------------------------------------------------------------------
# Comparisons

_JW = "jaro_winkler_similarity"
_DL = "damerau_levenshtein"


def _null(*columns: str) -> dict[str, Any]:
    cond = " OR ".join(f'"{c}_l" IS NULL OR "{c}_r" IS NULL' for c in columns)
    return {"sql_condition": cond, "label_for_charts": "missing", "is_null_level": True}


def _level(sql: str, label: str, m: float, u: float, tf: str | None = None) -> dict[str, Any]:
    level: dict[str, Any] = {
        "sql_condition": sql,
        "label_for_charts": label,
        "m_probability": m,
        "u_probability": u,
    }
    if tf is not None:
        level["tf_adjustment_column"] = tf
        level["tf_adjustment_weight"] = 1.0
    return level


def _else(m: float, u: float) -> dict[str, Any]:
    return _level("ELSE", "different", m, u)


def _eq(col: str) -> str:
    return f'"{col}_l" = "{col}_r"'


def _jw(a: str, b: str, at: float) -> str:
    return f'{_JW}("{a}_l", "{b}_r") >= {at}'


def _dl(col: str, at: int) -> str:
    # Damerau-Levenshtein is ten times dearer than Jaro in DuckDB; a Jaro guard (always met
    # within two edits of strings of five or more characters) skips it for unrelated values.
    left, right = f'"{col}_l"', f'"{col}_r"'
    return (
        f"CASE WHEN jaro_similarity({left}, {right}) >= 0.75 "
        f"THEN {_DL}({left}, {right}) ELSE 99 END <= {at}"
    )


#: Jaro-Winkler from which a value counts as the other field's (names or address lines
#: swapped, one of them mistyped).
SWAP_JW = 0.88


def given_name_comparison() -> dict[str, Any]:
    """Exact (frequency-adjusted), nickname group, close spelling, swapped with the family
    name, same sound, initial against a full name."""
    swapped = f'("given_l" = "family_r" OR {_jw("given", "family", SWAP_JW)})'
    initial = (
        '"given_initial_l" = "given_initial_r" AND (length("given_l") = 1 OR length("given_r") = 1)'
    )
    return {
        "output_column_name": "given",
        "comparison_description": "given name",
        "comparison_levels": [
            _null("given"),
            _level(_eq("given"), "exact", 0.80, 0.010, tf="given"),
            _level(_eq("given_canon"), "nickname", 0.03, 0.002),
            _level(_jw("given", "given", 0.92), "jaro-winkler >= 0.92", 0.07, 0.003),
            _level(swapped, "swapped with family name", 0.02, 0.0005),
            _level(_eq("given_phon"), "same sound", 0.02, 0.005),
            _level(_jw("given", "given", 0.80), "jaro-winkler >= 0.8", 0.02, 0.03),
            _level(initial, "initial", 0.01, 0.005),
            _else(0.03, 0.945),
        ],
    }


def family_name_comparison() -> dict[str, Any]:
    """Exact (frequency-adjusted), close spelling, one name within the other (double-barrelled),
    swapped with the given name, same sound."""
    swapped = f'("family_l" = "given_r" OR {_jw("family", "given", SWAP_JW)})'
    contained = (
        'length("family_l") >= 3 AND length("family_r") >= 3 AND '
        '(contains("family_l", "family_r") OR contains("family_r", "family_l"))'
    )
    return {
        "output_column_name": "family",
        "comparison_description": "family name",
        "comparison_levels": [
            _null("family"),
            _level(_eq("family"), "exact", 0.82, 0.002, tf="family"),
            _level(_jw("family", "family", 0.92), "jaro-winkler >= 0.92", 0.08, 0.002),
            _level(contained, "one within the other", 0.02, 0.0005),
            _level(swapped, "swapped with given name", 0.02, 0.0002),
            _level(_eq("family_phon"), "same sound", 0.02, 0.003),
            _level(_jw("family", "family", 0.80), "jaro-winkler >= 0.8", 0.02, 0.02),
            _else(0.02, 0.972),
        ],
    }


def birth_date_comparison() -> dict[str, Any]:
    """Exact, one typing error, day and month swapped, two digits off, same year, else.

    Keys are always eight digits, so the cheap Hamming distance screens the pairs before the
    dear Damerau-Levenshtein one (adjacent digits swapped are two Hamming steps, one edit).
    """
    swapped = (
        'substr("dob_l", 1, 4) = substr("dob_r", 1, 4) AND '
        'substr("dob_l", 5, 2) = substr("dob_r", 7, 2) AND '
        'substr("dob_l", 7, 2) = substr("dob_r", 5, 2)'
    )
    one_typo = (
        f'CASE WHEN hamming("dob_l", "dob_r") <= 2 THEN {_DL}("dob_l", "dob_r") ELSE 99 END <= 1'
    )
    return {
        "output_column_name": "dob",
        "comparison_description": "date of birth",
        "comparison_levels": [
            _null("dob"),
            _level(_eq("dob"), "exact", 0.85, 0.0001),
            _level(one_typo, "one typing error", 0.08, 0.002),
            _level(swapped, "day and month swapped", 0.01, 0.0001),
            _level('hamming("dob_l", "dob_r") <= 2', "two digits off", 0.03, 0.02),
            _level(_eq("dob_year"), "same year", 0.01, 0.01),
            _else(0.02, 0.968),
        ],
    }


#: Identifiers people type (a national id), where a near value is a typing error. Numbers a
#: system hands out (customer, loyalty card) are sequential: a household signing up together
#: gets neighbouring numbers, so for them only the exact value is evidence.
TYPED_IDENTIFIERS = frozenset({"id_national"})


def identifier_comparison(column: str) -> dict[str, Any]:
    """An identifier: exact; for a typed one (:data:`TYPED_IDENTIFIERS`) also one or two
    typing errors."""
    levels = [_null(column), _level(_eq(column), "exact", 0.85, 0.00001)]
    if column in TYPED_IDENTIFIERS:
        levels += [
            _level(_dl(column, 1), "one character off", 0.08, 0.0001),
            _level(_dl(column, 2), "two characters off", 0.04, 0.002),
            _else(0.03, 0.99789),
        ]
    else:
        levels.append(_else(0.15, 0.99999))
    return {
        "output_column_name": column,
        "comparison_description": f"identifier {column}",
        "comparison_levels": levels,
    }


def email_comparison() -> dict[str, Any]:
    """Exact address, same user part (other domain, dots or +tag), close user part."""
    return {
        "output_column_name": "email",
        "comparison_description": "email",
        "comparison_levels": [
            _null("email"),
            _level(_eq("email"), "exact", 0.80, 0.00001),
            _level(_eq("email_user"), "same user", 0.08, 0.0002),
            _level(_jw("email_user", "email_user", 0.92), "user jaro-winkler >= 0.92", 0.04, 0.002),
            _else(0.08, 0.99779),
        ],
    }


def phone_comparison() -> dict[str, Any]:
    """Exact (last nine digits), one digit off."""
    return {
        "output_column_name": "phone",
        "comparison_description": "phone",
        "comparison_levels": [
            _null("phone"),
            _level(_eq("phone"), "exact", 0.80, 0.00002),
            _level(_dl("phone", 1), "one digit off", 0.05, 0.0002),
            _else(0.15, 0.99978),
        ],
    }


def _text_comparison(
    column: str,
    description: str,
    m: tuple[float, float, float, float],
    u: tuple[float, float, float, float],
    tf: bool,
) -> dict[str, Any]:
    return {
        "output_column_name": column,
        "comparison_description": description,
        "comparison_levels": [
            _null(column),
            _level(_eq(column), "exact", m[0], u[0], tf=column if tf else None),
            _level(_jw(column, column, 0.92), "jaro-winkler >= 0.92", m[1], u[1]),
            _level(_jw(column, column, 0.80), "jaro-winkler >= 0.8", m[2], u[2]),
            _else(m[3], u[3]),
        ],
    }


def place_comparison() -> dict[str, Any]:
    """Postal code and locality as one comparison: they say nearly the same thing, and two
    comparisons would count that evidence twice. Region is left out for the same reason."""
    pc_eq, loc_eq = _eq("postcode"), _eq("locality")
    loc_close = _jw("locality", "locality", 0.88)
    return {
        "output_column_name": "place",
        "comparison_description": "postal code and locality",
        "comparison_levels": [
            {
                "sql_condition": '("postcode_l" IS NULL OR "postcode_r" IS NULL) AND '
                '("locality_l" IS NULL OR "locality_r" IS NULL)',
                "label_for_charts": "missing",
                "is_null_level": True,
            },
            _level(f"{pc_eq} AND {loc_eq}", "postcode and locality", 0.75, 0.0003, tf="postcode"),
            _level(f"{pc_eq} AND {loc_close}", "postcode, locality close", 0.05, 0.0001),
            _level(pc_eq, "postcode only", 0.06, 0.0005),
            _level(
                f"{loc_eq} AND {_dl('postcode', 1)}", "locality, postcode one off", 0.04, 0.0002
            ),
            _level(loc_eq, "locality only", 0.03, 0.002),
            _level(_dl("postcode", 1), "postcode one off", 0.02, 0.01),
            _level(_jw("locality", "locality", 0.92), "locality close", 0.01, 0.005),
            _else(0.04, 0.9822),
        ],
    }


def street_comparison() -> dict[str, Any]:
    """Street and house number, weighed by whether the place agrees too: "Church Street"
    in another town says little, the same house in the same town a lot."""
    same_place = '("postcode_l" = "postcode_r" OR "locality_l" = "locality_r")'
    same_number = '"street_number_l" = "street_number_r"'
    street_eq, street_close = _eq("street"), _jw("street", "street", 0.92)
    return {
        "output_column_name": "street",
        "comparison_description": "street and house number, within the place",
        "comparison_levels": [
            _null("street"),
            _level(f"{street_eq} AND {same_number} AND {same_place}", "same house", 0.7, 0.00002),
            _level(
                f"{street_close} AND {same_number} AND {same_place}",
                "same house, street close",
                0.1,
                0.00001,
            ),
            _level(f"{street_eq} AND {same_place}", "same street, other number", 0.06, 0.0002),
            _level(f"{street_close} AND {same_place}", "street close, other number", 0.02, 0.0001),
            _level(
                f"{street_eq} AND {same_number}",
                "same street and number, other place",
                0.03,
                0.0001,
            ),
            _level(street_eq, "same street name, other place", 0.01, 0.002),
            _level(
                f"{_jw('street', 'line2', SWAP_JW)} AND {_jw('line2', 'street', SWAP_JW)}",
                "address lines swapped",
                0.02,
                0.000005,
            ),
            _level(
                f"({_jw('street', 'line2', SWAP_JW)} OR {_jw('line2', 'street', SWAP_JW)})",
                "street in the other's second line",
                0.01,
                0.0001,
            ),
            _level(_jw("street", "street", 0.80), "street jaro-winkler >= 0.8", 0.02, 0.03),
            _else(0.06, 0.96769),
        ],
    }


def address_comparisons(present: set[str]) -> list[dict[str, Any]]:
    """Street with house number, second line, and the place (postal code with locality)."""
    out: list[dict[str, Any]] = []
    if "street" in present:
        out.append(street_comparison())
    if "line2" in present:
        line2 = _text_comparison(
            "line2", "address line 2", (0.8, 0.1, 0.05, 0.05), (0.001, 0.001, 0.01, 0.988), False
        )
        if "street" in present:
            # Lines swapped are the street comparison's evidence: counted there, not twice.
            swapped = f"{_jw('line2', 'street', SWAP_JW)} OR {_jw('street', 'line2', SWAP_JW)}"
            null = line2["comparison_levels"][0]
            null["sql_condition"] = f"{null['sql_condition']} OR {swapped}"
            null["label_for_charts"] = "missing, or swapped with the street (counted there)"
        out.append(line2)
    if "locality" in present or "postcode" in present:
        out.append(place_comparison())
    return out


def comparisons_for(prepared: pd.DataFrame) -> list[dict[str, Any]]:
    """The comparisons of every attribute that holds values in this frame."""
    present = set(present_columns(prepared))
    out: list[dict[str, Any]] = []
    if "given" in present:
        out.append(given_name_comparison())
    if "family" in present:
        out.append(family_name_comparison())
    if "dob" in present:
        out.append(birth_date_comparison())
    out.extend(identifier_comparison(c) for c in identifier_columns_of(prepared))
    if "email" in present:
        out.append(email_comparison())
    if "phone" in present:
        out.append(phone_comparison())
    out.extend(address_comparisons(present))
    return out


def default_settings(prepared: pd.DataFrame, keys: list[BlockingKey] | None = None) -> Settings:
    """The product's default Splink settings for a prepared frame (a plain, JSON-able dict)."""
    keys = blocking_keys_for(prepared) if keys is None else keys
    comparisons = comparisons_for(prepared)
    if not comparisons:
        raise ValueError("no attribute to compare: every name, date and contact is empty")
    n = max(len(prepared), 2)
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": comparisons,
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": f'l."bk_{k.name}" = r."bk_{k.name}"', "sql_dialect": "duckdb"}
            for k in keys
        ],
        # Prior: about one duplicate per record at most, spread over all pairs.
        "probability_two_random_records_match": min(0.5, 1.0 / n),
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": True,
        "em_convergence": 0.0001,
        "max_iterations": 25,
    }


# ---------------------------------------------------------------------------------------------
# Training (no labels)


@dataclass
class TrainingReport:
    """What the unsupervised training did, for the model file and the run log."""

    #: the final prior (estimated from the blocked pairs when the run trains, see :mod:`.prior`)
    probability_two_random_records_match: float | None = None
    #: the deterministic rules' estimate it started from
    prior_from_rules: float | None = None
    u_pairs: float = 0.0
    em_sessions: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: what the guard found wrong with the trained model (see :func:`training_problems`)
    warnings: list[str] = field(default_factory=list)
    #: true when the trained m and u were thrown away for the declared priors
    rejected: bool = False


def _deterministic_rules(prepared: pd.DataFrame) -> list[str]:
    present = set(present_columns(prepared))
    rules = [f'l."{c}" = r."{c}"' for c in identifier_columns_of(prepared)]
    if {"given", "family", "dob"} <= present:
        rules.append('l."given" = r."given" AND l."family" = r."family" AND l."dob" = r."dob"')
    if {"email", "given"} <= present:
        rules.append('l."email" = r."email" AND l."given" = r."given"')
    if {"phone", "given"} <= present:
        rules.append('l."phone" = r."phone" AND l."given" = r."given"')
    return rules


# Blocking rules for EM, most trusted first, with the comparisons each one uses (and so
# cannot estimate). A session is run only when it estimates a comparison no earlier session
# did: the address and the email blocks hold households (one family name, one house or one
# mailbox, other given names and birth dates), and EM trained there learns that "another
# given name" is common among duplicates, so they serve only where names or birth dates are
# missing from the base.
_EM_RULES: tuple[tuple[tuple[str, ...], frozenset[str]], ...] = (
    (("dob",), frozenset({"dob"})),
    # Namesakes share a block of names; the same names in one postcode are rarely strangers.
    (("given_phon", "family_phon", "postcode"), frozenset({"given", "family", "place"})),
    (("given_phon", "family_phon"), frozenset({"given", "family"})),
    (("email",), frozenset({"email"})),
    (("postcode", "street_number"), frozenset({"street", "line2", "place"})),
)


def em_sessions(present: set[str], comparisons: list[str]) -> list[tuple[str, ...]]:
    """The EM blocking rules (column tuples) to run: in order of trust, each one that
    estimates a comparison none before it did."""
    chosen: list[tuple[str, ...]] = []
    trained: set[str] = set()
    for columns, used in _EM_RULES:
        if not set(columns) <= present:
            continue
        gains = {c for c in comparisons if c not in used} - trained
        if gains:
            chosen.append(columns)
            trained |= gains
    return chosen


@contextmanager
def quiet_splink() -> Iterator[None]:
    """Silence Splink's per-level notes ("level not observed…") unless the caller has set
    the ``splink`` logger's level themselves."""
    logger = logging.getLogger("splink")
    if logger.level != logging.NOTSET:
        yield
        return
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(logging.NOTSET)


def train(
    make_linker: Callable[[Settings], Any],
    settings: Settings,
    prepared: pd.DataFrame,
    *,
    seed: int = 42,
    min_records: int = 200,
) -> tuple[Any, TrainingReport]:
    """Estimate the model on the base itself: prior, u by random sampling, m by EM.

    ``make_linker`` builds a Splink linker over the blocking frame from settings. A step that
    cannot run (too few records, no pairs under an EM rule, EM diverging) is skipped and named
    in the report, the linker rebuilt from the last good settings; the priors stand in for
    what it would have estimated. Returns the trained linker and the report.
    """
    with quiet_splink():
        return _train(make_linker, settings, prepared, seed=seed, min_records=min_records)


def _train(
    make_linker: Callable[[Settings], Any],
    settings: Settings,
    prepared: pd.DataFrame,
    *,
    seed: int,
    min_records: int,
) -> tuple[Any, TrainingReport]:
    linker = make_linker(settings)
    report = TrainingReport()
    n = len(prepared)
    if n < min_records:
        report.skipped.append(f"all training: {n} records < {min_records}")
        return linker, report
    rules = _deterministic_rules(prepared)
    if rules:
        try:
            linker.training.estimate_probability_two_random_records_match(rules, recall=0.8)
            found = float(linker._settings_obj._probability_two_random_records_match)
            if found > 0:
                report.prior_from_rules = report.probability_two_random_records_match = found
            else:  # no pair: keep the declared prior (the estimate from blocked pairs follows)
                report.skipped.append("probability two random records match: no rule pair")
                linker._settings_obj._probability_two_random_records_match = settings[
                    "probability_two_random_records_match"
                ]
        except Exception as exc:  # Splink raises plain Exceptions for degenerate data
            report.skipped.append(f"probability two random records match: {exc}")
    # Pairs for u: a million is enough for the levels that matter (the rare "swapped" ones
    # keep their priors when unseen); a larger base gets more, bounded so it stays fast.
    max_pairs = float(min(5e6, max(1e6, 5.0 * n), n * (n - 1) / 2))
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    report.u_pairs = max_pairs
    present = set(present_columns(prepared))
    names = [str(c["output_column_name"]) for c in settings["comparisons"]]
    for columns in em_sessions(present, names):
        rule = " AND ".join(f'l."{c}" = r."{c}"' for c in columns)
        good = linker.misc.save_model_to_json()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True, max_pairs=2e6
            )
            report.em_sessions.append(rule)
        except Exception as exc:  # EM on too few pairs or diverging: keep what we had
            report.skipped.append(f"EM on {rule}: {exc}")
            linker = make_linker(good)
    trained = linker.misc.save_model_to_json()
    flat, warnings = flat_comparisons(trained)
    report.warnings.extend(warnings)
    if flat and len(flat) == len(trained["comparisons"]):
        # Nothing tells duplicates apart: keep the declared priors rather than this model.
        report.rejected = True
        linker = make_linker(settings)
    return linker, report


#: A level whose m and u differ by less than this many bits tells nothing.
FLAT_BITS = 1.0


def training_problems(settings: Settings, n_records: int) -> tuple[list[str], list[str]]:
    """The guard on a trained model: (comparisons whose every level has m ≈ u, warnings).

    See :func:`flat_comparisons` and :func:`prior_problems`.
    """
    flat, warnings = flat_comparisons(settings)
    prior = float(settings.get("probability_two_random_records_match") or 0.0)
    return flat, warnings + prior_problems(prior, n_records)


def flat_comparisons(settings: Settings) -> tuple[list[str], list[str]]:
    """Comparisons whose every level has m ≈ u, and the warning naming them.

    A comparison whose levels all weigh less than :data:`FLAT_BITS` either way was not
    identified by the training (EM converged to "duplicates look like any pair"); when that is
    true of every comparison the training is degenerate.
    """
    flat: list[str] = []
    for comparison in settings["comparisons"]:
        bits = []
        for level in comparison["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if level.get("is_null_level") or not isinstance(m, float | int) or not m or not u:
                continue
            bits.append(abs(math.log2(float(m) / float(u))))
        if bits and max(bits) < FLAT_BITS:
            flat.append(str(comparison["output_column_name"]))
    warnings = []
    if flat:
        every = len(flat) == len(settings["comparisons"])
        if every:
            warnings.append(
                "degenerate training: m ≈ u for every level of every comparison; "
                "the declared priors are used instead"
            )
        else:
            warnings.append(f"m ≈ u for every level of {', '.join(flat)}: they barely count")
    return flat, warnings


def prior_problems(prior: float, n_records: int, *, bounded: str | None = None) -> list[str]:
    """Warnings on the final prior. ``bounded`` is None for a prior not estimated from the
    blocked pairs (one implying fewer than one duplicate pair per thousand records is
    reported: almost nothing will be found); else the bound the estimate hit, if any:
    "ceiling" (the model calls too many blocked pairs duplicates) or "rules" (it calls fewer
    duplicates than the deterministic rules find). A small estimate is no fault: the base
    holds few duplicates (a second run, after the merges)."""
    expected = prior * n_records * (n_records - 1) / 2
    if bounded == "ceiling":
        return [
            f"the prior ({prior:.2e}) was capped at {expected:,.0f} duplicate pairs among "
            f"{n_records:,} records: the model finds too many blocked pairs alike"
        ]
    if bounded == "rules":
        return [
            f"the model scores fewer pairs as duplicates than the deterministic rules find "
            f"({expected:,.0f}); the prior is kept at the rules' count: its m and u may be wrong"
        ]
    if bounded is None and n_records >= 1000 and expected < n_records / 1000:
        return [
            f"the prior ({prior:.2e}) implies {expected:.1f} duplicate pairs among "
            f"{n_records:,} records: almost no pair will be found"
        ]
    return []


# ---------------------------------------------------------------------------------------------
# The model file

#: Values kept per term-frequency column; rarer values share the smallest kept frequency.
TF_LIMIT = 20_000


def tf_columns(settings: dict[str, Any]) -> list[str]:
    """Columns whose exact agreement is adjusted by how common the value is."""
    cols = {
        str(lv["tf_adjustment_column"])
        for c in settings["comparisons"]
        for lv in c["comparison_levels"]
        if lv.get("tf_adjustment_column")
    }
    return sorted(cols)


def term_frequencies(prepared: pd.DataFrame, columns: list[str]) -> dict[str, Any]:
    """Per column: the most common values' shares of non-empty values, and the share to use
    for a value not listed (one occurrence, or the smallest listed share when cut)."""
    out: dict[str, Any] = {}
    for column in columns:
        if column not in prepared.columns:
            continue
        counts = prepared[column].dropna().value_counts()
        total = int(counts.sum())
        if not total:
            continue
        kept = counts.head(TF_LIMIT)
        shares = (kept / total).astype(float)
        default = float(shares.iloc[-1]) if len(counts) > TF_LIMIT else 1.0 / total
        out[column] = {"values": {str(k): float(v) for k, v in shares.items()}, "default": default}
    return out


@dataclass
class DedupeModel:
    """A trained model: Splink's settings (with m and u) plus our blocking and metadata."""

    settings: Settings
    keys: list[BlockingKey]
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE
    threshold: float = DEFAULT_THRESHOLD
    trained_on: int = 0
    trained_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    training: TrainingReport = field(default_factory=TrainingReport)

    def to_json(self, prepared: pd.DataFrame | None = None) -> dict[str, Any]:
        """The JSON document of the model, with its format and version; given the prepared
        frame it was trained on, also the term frequencies the online scorer needs."""
        doc = self._document()
        if prepared is not None:
            doc["term_frequencies"] = term_frequencies(prepared, tf_columns(self.settings))
        return doc

    def _document(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "trained_at": self.trained_at,
            "trained_on_records": self.trained_on,
            "threshold": self.threshold,
            "max_block_size": self.max_block_size,
            "blocking_keys": [
                {"name": k.name, "columns": list(k.columns), "why": k.why} for k in self.keys
            ],
            "training": {
                "probability_two_random_records_match": (
                    self.training.probability_two_random_records_match
                ),
                "prior_from_rules": self.training.prior_from_rules,
                "u_pairs": self.training.u_pairs,
                "em_sessions": self.training.em_sessions,
                "skipped": self.training.skipped,
                "warnings": self.training.warnings,
                "rejected": self.training.rejected,
            },
            "splink_settings": self.settings,
        }

    def save(self, path: str | Path) -> None:
        """Write the model as JSON (UTF-8, indented)."""
        Path(path).write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> DedupeModel:
        """Read a model document; ValueError for another format or a newer version."""
        if doc.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a {MODEL_FORMAT} model (format={doc.get('format')!r})")
        if int(doc.get("version", 0)) > MODEL_VERSION:
            raise ValueError(f"model version {doc['version']} is newer than {MODEL_VERSION}")
        training = doc.get("training", {})
        return cls(
            settings=doc["splink_settings"],
            keys=[
                BlockingKey(k["name"], tuple(k["columns"]), k.get("why", ""))
                for k in doc["blocking_keys"]
            ],
            max_block_size=int(doc.get("max_block_size", DEFAULT_MAX_BLOCK_SIZE)),
            threshold=float(doc.get("threshold", DEFAULT_THRESHOLD)),
            trained_on=int(doc.get("trained_on_records", 0)),
            trained_at=str(doc.get("trained_at", "")),
            training=TrainingReport(
                probability_two_random_records_match=training.get(
                    "probability_two_random_records_match"
                ),
                prior_from_rules=training.get("prior_from_rules"),
                u_pairs=float(training.get("u_pairs", 0.0)),
                em_sessions=list(training.get("em_sessions", [])),
                skipped=list(training.get("skipped", [])),
                warnings=list(training.get("warnings", [])),
                rejected=bool(training.get("rejected", False)),
            ),
        )

    @classmethod
    def load(cls, path: str | Path) -> DedupeModel:
        """Read a model file written by :meth:`save`."""
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def probability_to_weight(probability: float) -> float:
    """Match weight (bits) of a match probability."""
    probability = min(max(probability, 1e-12), 1 - 1e-12)
    return math.log2(probability / (1 - probability))
