"""Plotly figures of the value and demand reports (M18), as JSON-ready dicts.

Every builder takes the report and a ``gettext`` function (texts are marked with ``N_`` and
translated in the page's language) and returns ``{"data": [...], "layout": {...}}``; the web
pages embed it as JSON and draw it with the Plotly bundle shipped in the plotly package
(offline: no CDN).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from typing import Any

from closedloop.i18n import N_
from closedloop.reports.demand import DemandReport
from closedloop.reports.value import ValuePoint, ValueReport

Gettext = Callable[[str], str]
Figure = dict[str, Any]

#: Display names of the RFM segments and lifecycle stages (message ids).
VALUE_LABELS: dict[str, str] = {
    "champions": N_("Champions"),
    "loyal": N_("Loyal"),
    "potential_loyalist": N_("Potential loyalist"),
    "new": N_("New"),
    "promising": N_("Promising"),
    "need_attention": N_("Needs attention"),
    "at_risk": N_("At risk"),
    "cant_lose": N_("Can't lose"),
    "hibernating": N_("Hibernating"),
    "lost": N_("Lost"),
    "active": N_("Active"),
    "lapsed": N_("Lapsed"),
    "won_back": N_("Won back"),
    "bgnbd": N_("BG/NBD"),
    "mbgnbd": N_("MBG/NBD"),
    "queued": N_("Queued"),
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Failed"),
    "pareto_nbd": N_("Pareto/NBD"),
}

PALETTE = ("#2f6f8f", "#e07b39", "#5a9e6f", "#b5485d", "#7d6bb3", "#c9a227", "#4d8fd6", "#8c6d46")


def label(gettext: Gettext, code: str | None) -> str:
    """The translated display name of a segment or stage code (the code when unknown)."""
    if not code:
        return ""
    return gettext(VALUE_LABELS[code]) if code in VALUE_LABELS else code


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "hovermode": "closest",
    }
    layout.update(extra)
    return layout


def rfm_grid(report: ValueReport, gettext: Gettext) -> Figure:
    """Heat map of buyers per R score (rows) and FM score (columns), named by segment."""
    r_labels = [f"R {r}" for r in (5, 4, 3, 2, 1)]
    fm_labels = [f"FM {fm}" for fm in (1, 2, 3, 4, 5)]
    names = [[label(gettext, s) for s in row] for row in report.grid_segments]
    text = [[f"{names[i][j]}<br>{report.grid[i][j]:,}" for j in range(5)] for i in range(5)]
    return {
        "data": [
            {
                "type": "heatmap",
                "z": report.grid,
                "x": fm_labels,
                "y": r_labels,
                "text": text,
                "texttemplate": "%{text}",
                "hovertemplate": "%{y} · %{x}<br>%{text}<extra></extra>",
                "colorscale": "Blues",
                "reversescale": True,
                "showscale": False,
            }
        ],
        "layout": _layout(
            gettext(N_("RFM grid: buyers per recency score and frequency-monetary score")),
            yaxis={"autorange": "reversed"},
        ),
    }


def clv_distribution(report: ValueReport, gettext: Gettext) -> Figure:
    """Histogram of the CLV (the last bar gathers the top 1%)."""
    edges = report.clv_edges
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    widths = [b - a for a, b in itertools.pairwise(edges)]
    return {
        "data": [
            {
                "type": "bar",
                "x": centres,
                "y": report.clv_counts,
                "width": widths,
                "marker": {"color": PALETTE[0]},
                "hovertemplate": "%{x:,.0f}: %{y:,}<extra></extra>",
            }
        ],
        "layout": _layout(
            gettext(N_("Distribution of the expected value over the horizon")),
            xaxis={"title": {"text": gettext(N_("Expected value over the horizon, discounted"))}},
            yaxis={"title": {"text": gettext(N_("Persons"))}},
            bargap=0.02,
        ),
    }


def tier_shares(report: ValueReport, gettext: Gettext) -> Figure:
    """Each tier's share of the buyers, of the revenue and of the CLV."""
    names = [gettext(N_("Tier %(name)s")) % {"name": t.name} for t in report.tiers]
    series = [
        (N_("Share of buyers"), [t.share_persons for t in report.tiers]),
        (N_("Share of revenue"), [t.share_revenue for t in report.tiers]),
        (N_("Share of the expected value"), [t.share_clv or 0.0 for t in report.tiers]),
    ]
    return {
        "data": [
            {
                "type": "bar",
                "name": gettext(title),
                "x": names,
                "y": values,
                "marker": {"color": PALETTE[i]},
                "hovertemplate": "%{x}: %{y:.1%}<extra></extra>",
            }
            for i, (title, values) in enumerate(series)
        ],
        "layout": _layout(
            gettext(N_("Value tiers: size and share of value")),
            barmode="group",
            yaxis={"tickformat": ".0%"},
            legend={"orientation": "h", "y": -0.15},
        ),
    }


def alive_by_recency(report: ValueReport, gettext: Gettext) -> Figure:
    """P(alive) of a sample of buyers against days since their last purchase, and the mean."""
    return {
        "data": [
            {
                "type": "scattergl" if len(report.alive_points) > 5000 else "scatter",
                "mode": "markers",
                "name": gettext(N_("Buyers (sample)")),
                "x": [p[0] for p in report.alive_points],
                "y": [p[1] for p in report.alive_points],
                "marker": {"size": 4, "opacity": 0.35, "color": PALETTE[0]},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": gettext(N_("Mean per 30 days")),
                "x": [c[0] + 15 for c in report.alive_curve],
                "y": [c[1] for c in report.alive_curve],
                "line": {"color": PALETTE[1], "width": 3},
            },
        ],
        "layout": _layout(
            gettext(N_("Probability of being still active against recency")),
            xaxis={"title": {"text": gettext(N_("Days since the last purchase"))}},
            yaxis={"title": {"text": gettext(N_("P(alive)"))}, "range": [0, 1.02]},
            legend={"x": 0.98, "y": 0.98, "xanchor": "right", "bgcolor": "rgba(255,255,255,0.8)"},
        ),
    }


def segment_change(report: ValueReport, gettext: Gettext) -> Figure:
    """Segments ranked by expected revenue next year minus revenue last year."""
    ranked = report.segments_by_change
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [label(gettext, s.name) for s in ranked],
                "x": [s.change for s in ranked],
                "marker": {
                    "color": [PALETTE[2] if (s.change or 0) >= 0 else PALETTE[3] for s in ranked]
                },
                "hovertemplate": "%{y}: %{x:,.0f}<extra></extra>",
            }
        ],
        "layout": _layout(
            gettext(N_("Segments whose value grows or shrinks (next year vs last year)")),
            yaxis={"autorange": "reversed"},
            margin={"l": 140, "r": 20, "t": 50, "b": 40},
        ),
    }


def demand_forecast(report: DemandReport, gettext: Gettext, top: int | None = None) -> Figure:
    """Monthly revenue of every category (or the ``top`` largest), and its forecast (dashed):
    the fastest-growing category is often a small one, so none is left out by default."""
    data: list[dict[str, Any]] = []
    for i, cat in enumerate(report.categories[:top]):
        color = PALETTE[i % len(PALETTE)]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": cat.name,
                "legendgroup": cat.code,
                "x": report.months,
                "y": cat.revenue,
                "line": {"color": color},
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": gettext(N_("%(name)s forecast")) % {"name": cat.name},
                "legendgroup": cat.code,
                "showlegend": False,
                "x": [report.months[-1], *report.forecast_months],
                "y": [cat.revenue[-1], *cat.forecast],
                "line": {"color": color, "dash": "dash"},
            }
        )
    return {
        "data": data,
        "layout": _layout(
            gettext(N_("Demand per category and month, with forecast")),
            yaxis={"title": {"text": gettext(N_("Net revenue"))}},
            legend={"orientation": "h", "y": -0.2},
        ),
    }


def category_decomposition(report: DemandReport, gettext: Gettext) -> Figure:
    """Trend and seasonal component of the largest category."""
    if not report.categories:
        return {"data": [], "layout": _layout(gettext(N_("Trend and seasonality")))}
    cat = report.categories[0]
    return {
        "data": [
            {
                "type": "scatter",
                "name": gettext(N_("Demand")),
                "x": report.months,
                "y": cat.revenue,
            },
            {"type": "scatter", "name": gettext(N_("Trend")), "x": report.months, "y": cat.trend},
            {
                "type": "bar",
                "name": gettext(N_("Seasonality")),
                "x": report.months,
                "y": cat.seasonal,
                "opacity": 0.5,
            },
        ],
        "layout": _layout(
            gettext(N_("Trend and seasonality: %(name)s")) % {"name": cat.name},
            legend={"orientation": "h", "y": -0.2},
        ),
    }


def cohort_retention(report: DemandReport, gettext: Gettext) -> Figure:
    """Share of each first-purchase cohort buying again n months later."""
    width = max((len(row) for row in report.retention), default=0)
    z = [row + [None] * (width - len(row)) for row in report.retention]
    return {
        "data": [
            {
                "type": "heatmap",
                "z": z,
                "x": list(range(width)),
                "y": report.cohorts,
                "colorscale": "YlGnBu",
                "zmin": 0,
                "zmax": 0.5,
                "hovertemplate": "%{y} + %{x}: %{z:.1%}<extra></extra>",
                "colorbar": {"tickformat": ".0%"},
            }
        ],
        "layout": _layout(
            gettext(N_("Cohort retention: share of each first-purchase month buying again")),
            xaxis={"title": {"text": gettext(N_("Months since the first purchase"))}},
            yaxis={"autorange": "reversed"},
        ),
    }


def value_history(points: list[ValuePoint], gettext: Gettext) -> Figure:
    """A person's lifetime value and P(alive) over the scoring runs (the value cycle)."""
    dates = [p.as_of for p in points]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": gettext(N_("Lifetime value")),
                "x": dates,
                "y": [p.clv for p in points],
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": gettext(N_("P(alive)")),
                "x": dates,
                "y": [p.p_alive for p in points],
                "yaxis": "y2",
                "line": {"dash": "dot"},
            },
        ],
        "layout": _layout(
            gettext(N_("Value history")),
            yaxis2={"overlaying": "y", "side": "right", "range": [0, 1]},
        ),
    }


def _clean(value: Any) -> Any:
    """Non-finite numbers become None (JSON has no NaN); containers are walked."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def to_json(figure: Figure) -> str:
    """The figure as JSON, with ``<``, ``>`` and ``&`` escaped so that it is also safe inside
    a ``<script type="application/json">`` element."""
    text = json.dumps(_clean(figure), ensure_ascii=False, allow_nan=False, default=float)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


__all__ = [
    "VALUE_LABELS",
    "alive_by_recency",
    "category_decomposition",
    "clv_distribution",
    "cohort_retention",
    "demand_forecast",
    "label",
    "rfm_grid",
    "segment_change",
    "tier_shares",
    "to_json",
    "value_history",
]
