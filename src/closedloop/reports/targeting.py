"""Plotly figures of the targeting pages (propensity, clusters, recommendations, markets), as
JSON-ready dicts built from the results of :mod:`closedloop.targeting` — the same shape as
:mod:`closedloop.reports.charts`, drawn by ``static/reports.js``.
"""

from __future__ import annotations

from typing import Any

from closedloop.i18n import N_
from closedloop.reports.charts import PALETTE, Figure, Gettext, _layout


def lift_by_decile(result: dict[str, Any], gettext: Gettext) -> Figure:
    """Out-of-time lift per decile of the ranking (1 = the best-scored tenth)."""
    rows = result.get("lift_by_decile") or []
    return {
        "data": [
            {
                "type": "bar",
                "x": [str(d["decile"]) for d in rows],
                "y": [d["lift"] for d in rows],
                "customdata": [d["rate"] for d in rows],
                "marker": {"color": PALETTE[0]},
                "hovertemplate": "%{x}: ×%{y:.2f} (%{customdata:.1%})<extra></extra>",
            }
        ],
        "layout": _layout(
            gettext(N_("Lift by decile, on a period the model never saw")),
            xaxis={"title": {"text": gettext(N_("Decile of the ranking (1 = best)"))}},
            yaxis={"title": {"text": gettext(N_("Lift over the base rate"))}},
            shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 1, "y1": 1,
                     "line": {"dash": "dot", "color": "#888"}}],
        ),
    }  # fmt: skip


def calibration(result: dict[str, Any], gettext: Gettext) -> Figure:
    """Predicted against observed buy rate per tenth of the scores (the diagonal is exact)."""
    rows = result.get("calibration") or []
    top = max([0.01, *(r["predicted"] for r in rows), *(r["observed"] for r in rows)])
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "x": [0, top], "y": [0, top],
             "line": {"dash": "dot", "color": "#888"}, "name": gettext(N_("Perfect")),
             "hoverinfo": "skip"},
            {"type": "scatter", "mode": "lines+markers", "x": [r["predicted"] for r in rows],
             "y": [r["observed"] for r in rows], "marker": {"color": PALETTE[1]},
             "name": gettext(N_("Model")),
             "hovertemplate": "%{x:.1%} → %{y:.1%}<extra></extra>"},
        ],
        "layout": _layout(
            gettext(N_("Calibration: predicted and observed buy rate")),
            xaxis={"title": {"text": gettext(N_("Predicted"))}, "tickformat": ".0%"},
            yaxis={"title": {"text": gettext(N_("Observed"))}, "tickformat": ".0%"},
            showlegend=False,
        ),
    }  # fmt: skip


def cluster_map(result: dict[str, Any], gettext: Gettext) -> Figure:
    """Each cluster as a bubble: median days since the last order against median spend,
    its size the number of buyers."""
    rows = result.get("clusters") or []
    biggest = max([1, *(c["persons"] for c in rows)])
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": [c["profile"]["recency_days"] for c in rows],
                "y": [c["profile"]["monetary"] for c in rows],
                "text": [f"{c['cluster']}. {c['name']}" for c in rows],
                "textposition": "top center",
                "customdata": [c["persons"] for c in rows],
                "marker": {
                    "size": [12 + 48 * (c["persons"] / biggest) ** 0.5 for c in rows],
                    "color": [PALETTE[i % len(PALETTE)] for i in range(len(rows))],
                    "opacity": 0.7,
                },
                "hovertemplate": "%{text}<br>%{customdata:,}<extra></extra>",
            }
        ],
        "layout": _layout(
            gettext(N_("Clusters: recency against spend (bubble: buyers)")),
            xaxis={"title": {"text": gettext(N_("Median days since the last order"))}},
            yaxis={"title": {"text": gettext(N_("Median spend"))}},
        ),
    }


def recommendation_quality(result: dict[str, Any], gettext: Gettext) -> Figure:
    """Hit-rate and MRR of the recommendations against the popularity baseline."""
    names = [gettext(N_("Recommendations")), gettext(N_("Most popular"))]
    series = [(N_("Hit rate"), "hit_rate"), (N_("MRR"), "mrr")]
    return {
        "data": [
            {"type": "bar", "name": gettext(title), "x": names,
             "y": [result["model"][key], result["popularity"][key]],
             "marker": {"color": PALETTE[i]}, "hovertemplate": "%{x}: %{y:.3f}<extra></extra>"}
            for i, (title, key) in enumerate(series)
        ],
        "layout": _layout(gettext(N_("Last purchase found among the recommendations")),
                          barmode="group"),
    }  # fmt: skip


def market_scores(rows: list[dict[str, Any]], gettext: Gettext) -> Figure:
    """The markets' scores (size × expected value × reachability), best first."""
    return {
        "data": [
            {"type": "bar", "x": [r["market"] for r in rows], "y": [r["score"] for r in rows],
             "customdata": [[r["persons"], r["reachability"]] for r in rows],
             "marker": {"color": PALETTE[2]},
             "hovertemplate": "%{x}: %{y:,.0f}<br>%{customdata[0]:,} · %{customdata[1]:.0%}"
                              "<extra></extra>"},
        ],
        "layout": _layout(gettext(N_("Reachable category revenue per market")),
                          yaxis={"title": {"text": gettext(N_("Score"))}}),
    }  # fmt: skip


def qini(result: dict[str, Any], gettext: Gettext) -> Figure:
    """The Qini curve (incremental buyers by share of members targeted, best uplift first)
    against the diagonal of random targeting."""
    points = result.get("qini") or []
    xs = [p["fraction"] for p in points]
    last = points[-1]["incremental"] if points else 0.0
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "x": [0, 1], "y": [0, last],
             "line": {"dash": "dot", "color": "#888"}, "name": gettext(N_("Random targeting")),
             "hoverinfo": "skip"},
            {"type": "scatter", "mode": "lines+markers", "x": xs,
             "y": [p["incremental"] for p in points], "marker": {"color": PALETTE[3]},
             "name": gettext(N_("Uplift model")),
             "hovertemplate": "%{x:.0%} → %{y:.2%}<extra></extra>"},
        ],
        "layout": _layout(
            gettext(N_("Qini curve: incremental buyers by share of members targeted")),
            xaxis={"title": {"text": gettext(N_("Share of members, best uplift first"))},
                   "tickformat": ".0%"},
            yaxis={"title": {"text": gettext(N_("Incremental buyers (share of members)"))},
                   "tickformat": ".1%"},
        ),
    }  # fmt: skip


__all__ = [
    "calibration",
    "cluster_map",
    "lift_by_decile",
    "market_scores",
    "recommendation_quality",
]
