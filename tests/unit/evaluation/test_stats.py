"""The evaluation's statistics against a published experiment and against statsmodels/scipy."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import stdtr, stdtrit
from scipy.stats import ttest_ind_from_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from closedloop.evaluation import student
from closedloop.evaluation.stats import Sample, holm, two_proportions, welch


def test_hillstrom_womens_email_against_no_email() -> None:
    """MineThatData (Hillstrom, 2008): site visits after the women's e-mail vs no e-mail."""
    result = two_proportions(3238, 21387, 2262, 21306)
    assert round(result.rate1 * 100, 2) == 15.14
    assert round(result.rate0 * 100, 2) == 10.62
    assert result.z == pytest.approx(13.95, abs=0.005)
    assert round(result.ci_low * 100, 1) == 3.9
    assert round(result.ci_high * 100, 1) == 5.2
    assert result.p_value is not None and result.p_value < 1e-40
    assert result.significant


def test_no_difference_is_not_significant() -> None:
    result = two_proportions(100, 1000, 100, 1000)
    assert result.diff == 0 and result.z == 0 and result.p_value == pytest.approx(1.0)
    assert not result.significant


def test_impossible_counts_are_refused_with_the_field() -> None:
    with pytest.raises(ValueError, match="x1=5 of 3"):
        two_proportions(5, 3, 1, 10)


def test_untestable_groups_give_no_p_value() -> None:
    assert two_proportions(0, 0, 3, 10).p_value is None
    assert two_proportions(0, 50, 0, 60).p_value is None  # nobody converted anywhere


counts = st.integers(min_value=2, max_value=200_000)


@settings(max_examples=100, deadline=None)
@given(n1=counts, n0=counts, f1=st.floats(0, 1), f0=st.floats(0, 1))
def test_two_proportions_agree_with_statsmodels(n1: int, n0: int, f1: float, f0: float) -> None:
    x1, x0 = round(n1 * f1), round(n0 * f0)
    ours = two_proportions(x1, n1, x0, n0)
    if 0 < x1 + x0 < n1 + n0:
        z, p = proportions_ztest([x1, x0], [n1, n0])
        assert ours.z == pytest.approx(float(z), rel=1e-9, abs=1e-9)
        assert ours.p_value == pytest.approx(float(p), rel=1e-6, abs=1e-300)
    else:
        assert ours.p_value is None
    low, high = confint_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
    assert ours.ci_low == pytest.approx(float(low), abs=1e-9)
    assert ours.ci_high == pytest.approx(float(high), abs=1e-9)


values = st.lists(st.floats(0, 5000, allow_nan=False), min_size=2, max_size=60)


@settings(max_examples=100, deadline=None)
@given(one=values, zero=values)
def test_welch_agrees_with_scipy(one: list[float], zero: list[float]) -> None:
    a = Sample(len(one), sum(one), sum(v * v for v in one))
    b = Sample(len(zero), sum(zero), sum(v * v for v in zero))
    ours = welch(a, b)
    if a.variance == 0 and b.variance == 0:
        assert ours.p_value is None
        return
    if a.variance + b.variance < 1e-6:  # sums of squares lose the digits scipy still has
        return
    ref = ttest_ind_from_stats(
        a.mean, math.sqrt(a.variance), a.n, b.mean, math.sqrt(b.variance), b.n, equal_var=False
    )
    assert ours.t == pytest.approx(float(ref.statistic), rel=1e-6, abs=1e-9)
    assert ours.p_value == pytest.approx(float(ref.pvalue), rel=1e-5, abs=1e-12)
    assert ours.ci_low <= ours.diff <= ours.ci_high
    assert ours.df is not None
    half = float(stdtrit(ours.df, 0.975)) * math.sqrt(a.variance / a.n + b.variance / b.n)
    assert ours.ci_high - ours.diff == pytest.approx(half, rel=1e-8, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(
    t=st.floats(-60, 60, allow_nan=False),
    df=st.floats(1.0, 1e8, allow_nan=False),
    q=st.sampled_from((0.6, 0.9, 0.975, 0.995, 0.9995)),
)
def test_student_t_agrees_with_scipy(t: float, df: float, q: float) -> None:
    """The plain-Python t distribution (a report no longer imports scipy) against scipy's."""
    expected = float(2 * stdtr(df, -abs(t)))
    assert student.two_sided_p(t, df) == pytest.approx(expected, rel=1e-8, abs=1e-300)
    assert student.quantile(q, df) == pytest.approx(float(stdtrit(df, q)), rel=1e-8)


def _holm_cases() -> list[list[float]]:
    """Edge cases (ties, 0, 1, tiny values), then seeded random families of 1 to 12."""
    rng = random.Random(13)
    cases = [[0.0], [1.0], [0.05, 0.05, 0.05], [1e-300, 0.5, 1.0, 0.0], [0.01, 0.04, 0.03, 0.2]]
    for _ in range(10):
        cases.append([rng.random() ** rng.choice((1, 4)) for _ in range(rng.randint(1, 12))])
    return cases


# A fixed list, not Hypothesis: statsmodels' multipletests costs up to 0.3 s a call, and
# Hypothesis' search made this one test take 84 s of a CI run.
@pytest.mark.parametrize("p_values", _holm_cases())
def test_holm_agrees_with_statsmodels(p_values: list[float]) -> None:
    _, expected, _, _ = multipletests(p_values, method="holm")
    assert holm(list(p_values)) == pytest.approx([float(v) for v in expected])


def test_holm_keeps_unknown_p_values_out_of_the_family() -> None:
    assert holm([0.01, None, 0.04]) == [pytest.approx(0.02), None, pytest.approx(0.04)]
