"""The feature expressions on the store's engine (SQLite or PostgreSQL) and on DuckDB."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import ibis
import pandas as pd
import pytest
from sqlalchemy import Engine

from closedloop.scoring import expr, rfm
from closedloop.scoring.backend import ibis_connection

AS_OF = date(2026, 11, 22)
DAY = (AS_OF - date(1970, 1, 1)).days


def _d(year: int, month: int, day: int) -> date:
    return date(year, month, day)


@pytest.fixture()
def orders_set(shop: Callable[..., int]) -> dict[str, int]:
    """A handful of persons covering the feature rules."""
    return {
        "regular": shop(
            [
                (_d(2025, 1, 10), 100.0),
                (_d(2025, 1, 10), 50.0),  # same day: one purchase of 150
                (_d(2025, 6, 1), 80.0),
                (_d(2026, 10, 1), 120.0),
                (_d(2026, 10, 5), -40.0),  # a return on its own day: not a purchase
            ]
        ),
        "one": shop([(_d(2026, 11, 20), 35.5)]),
        "zero": shop([(_d(2026, 3, 3), 0.0)]),
        "netted": shop([(_d(2026, 2, 2), 90.0), (_d(2026, 2, 2), -90.0), (_d(2026, 4, 4), 10.0)]),
        "future": shop([(_d(2026, 5, 1), 20.0), (_d(2027, 1, 1), 999.0)]),
        "competitor": shop(
            [(_d(2026, 5, 1), 20.0), {"day": _d(2026, 6, 1), "amount": 500.0, "supplier": "Rival"}]
        ),
        "cancelled": shop(
            [(_d(2026, 5, 1), 20.0), {"day": _d(2026, 6, 1), "amount": 70.0, "status": "cancelled"}]
        ),
        "usd": shop([{"day": _d(2026, 7, 1), "amount": 100.0, "currency": "USD"}]),
        "nothing": shop([]),
    }


def _features(engine: Engine, **kw: object) -> pd.DataFrame:
    with ibis_connection(engine) as con:
        built = expr.customer_features(con.table("orders"), DAY, **kw)  # type: ignore[arg-type]
        return built.to_pandas().set_index("person_id").sort_index()


def test_features_follow_the_rules(engine: Engine, orders_set: dict[str, int]) -> None:
    f = _features(
        engine,
        rates={"EUR": 1.0, "USD": 0.5},
        window_start_day=DAY - 365,
        calibration_end_day=DAY - 182,
    )
    regular = f.loc[orders_set["regular"]]
    assert regular.purchase_days == 3 and regular.frequency == 2
    assert regular.first_day == (date(2025, 1, 10) - date(1970, 1, 1)).days
    assert regular.recency_days == (AS_OF - date(2026, 10, 1)).days
    assert regular.t_x == (date(2026, 10, 1) - date(2025, 1, 10)).days
    assert regular.age == (AS_OF - date(2025, 1, 10)).days
    assert regular.gross == pytest.approx(350.0)
    assert regular.repeat_value == pytest.approx(200.0)
    assert regular.returns == pytest.approx(-40.0)
    assert regular.revenue == pytest.approx(310.0)
    assert regular.orders == 5
    assert regular.gap_before_last == (date(2026, 10, 1) - date(2025, 6, 1)).days
    assert regular.window_purchase_days == 1 and regular.window_revenue == pytest.approx(80.0)
    assert regular.cal_purchase_days == 2 and regular.holdout_purchase_days == 1

    one = f.loc[orders_set["one"]]
    assert (one.purchase_days, one.frequency, one.t_x, one.age) == (1, 0, 0, 2)
    assert pd.isna(one.gap_before_last)

    zero = f.loc[orders_set["zero"]]  # a zero-amount order is a transaction (CDNOW's $0 CDs)
    assert zero.purchase_days == 1 and zero.first_day == (date(2026, 3, 3) - date(1970, 1, 1)).days
    assert zero.revenue == 0 and zero.gross == 0

    netted = f.loc[orders_set["netted"]]  # bought and returned the same day
    assert netted.purchase_days == 1 and netted.revenue == pytest.approx(10.0)

    assert f.loc[orders_set["future"]].revenue == pytest.approx(20.0)
    assert f.loc[orders_set["competitor"]].revenue == pytest.approx(20.0)
    assert f.loc[orders_set["cancelled"]].revenue == pytest.approx(20.0)
    assert f.loc[orders_set["usd"]].revenue == pytest.approx(50.0)
    assert orders_set["nothing"] not in f.index


def test_order_checks_report_currencies_and_future_orders(
    engine: Engine, orders_set: dict[str, int]
) -> None:
    with ibis_connection(engine) as con:
        before = datetime(2026, 11, 23, tzinfo=UTC)
        checks = expr.order_checks(con.table("orders"), before).to_pandas()
    rows = {(r.currency, bool(r.future)): int(r.orders) for r in checks.itertuples()}
    assert rows[("USD", False)] == 1
    assert rows[("EUR", True)] == 1
    assert sum(rows.values()) == 15  # competitor and cancelled orders are not counted


def test_rfm_scores_expression_matches_numpy(
    engine: Engine, population: Callable[..., list[int]]
) -> None:
    population(150, seed=3)
    with ibis_connection(engine) as con:
        features = expr.customer_features(con.table("orders"), DAY, window_start_day=DAY - 365)
        scored = expr.rfm_scores(features).to_pandas().sort_values("person_id")
    r, f, m = rfm.rfm(
        scored["recency_days"].to_numpy(),
        scored["window_purchase_days"].to_numpy(),
        scored["window_revenue"].to_numpy(),
    )
    assert list(scored["r_score"]) == list(r)
    assert list(scored["f_score"]) == list(f)
    assert list(scored["m_score"]) == list(m)


def test_same_expressions_on_duckdb(engine: Engine, orders_set: dict[str, int]) -> None:
    """The builders are backend-neutral: a copy of the orders in DuckDB gives the same rows."""
    kw = {
        "rates": {"EUR": 1.0, "USD": 0.5},
        "window_start_day": DAY - 365,
        "calibration_end_day": DAY - 182,
    }
    here = _features(engine, **kw)
    with ibis_connection(engine) as con:
        orders = con.table("orders").to_pyarrow()
    duck = ibis.duckdb.connect()
    try:
        duck.create_table("orders", orders)
        there = (
            expr.customer_features(duck.table("orders"), DAY, **kw)  # type: ignore[arg-type]
            .to_pandas()
            .set_index("person_id")
            .sort_index()
        )
    finally:
        duck.disconnect()
    pd.testing.assert_frame_equal(
        here.astype("float64"), there[here.columns].astype("float64"), check_exact=False
    )
