"""Plotly figures of a campaign's evaluation, as JSON-ready dicts built from the report's
JSON (:func:`closedloop.evaluation.report_dict`). Each builder takes a ``gettext`` for its
texts; the web page draws them with the Plotly bundle served by the site."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Gettext = Callable[[str], str]
Figure = dict[str, Any]
PALETTE = ("#2f6f8f", "#e07b39", "#5a9e6f", "#b5485d", "#7d6bb3", "#c9a227")
STAGES = ("contacted", "delivered", "opened", "clicked", "responded", "converted")


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.2},
        **extra,
    }


def funnel(report: dict[str, Any], gettext: Gettext) -> Figure:
    """Each treated cell's funnel: contacted → delivered → opened → clicked → responded →
    converted (persons)."""
    names = [gettext(s.capitalize()) for s in STAGES]
    return {
        "data": [
            {
                "type": "bar",
                "name": c["label"],
                "x": names,
                "y": [c[s] for s in STAGES],
                "marker": {"color": PALETTE[i % len(PALETTE)]},
            }
            for i, c in enumerate(g for g in report["cells"] if not g["is_control"])
        ],
        "layout": _layout(gettext("Funnel per cell (persons)"), barmode="group"),
    }


def conversion(report: dict[str, Any], gettext: Gettext) -> Figure:
    """Conversion rate per cell (the control group included) with the 95 % interval of each
    treated cell's difference from the control group drawn around its rate."""
    cells = report["cells"]
    errors_plus, errors_minus = [], []
    for c in cells:
        lift = (c.get("lift") or {}).get("conversion")
        if lift:
            errors_plus.append(max(0.0, lift["ci_high"] - lift["diff"]))
            errors_minus.append(max(0.0, lift["diff"] - lift["ci_low"]))
        else:
            errors_plus.append(0.0)
            errors_minus.append(0.0)
    return {
        "data": [
            {
                "type": "bar",
                "x": [c["label"] for c in cells],
                "y": [c["rates"]["conversion"] or 0.0 for c in cells],
                "marker": {"color": ["#999999" if c["is_control"] else PALETTE[0] for c in cells]},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": errors_plus,
                    "arrayminus": errors_minus,
                },
                "hovertemplate": "%{x}: %{y:.2%}<extra></extra>",
            }
        ],
        "layout": _layout(
            gettext("Conversion rate (bars: 95 % interval of the lift)"),
            yaxis={"tickformat": ".1%"},
            showlegend=False,
        ),
    }


def lift(report: dict[str, Any], gettext: Gettext) -> Figure:
    """The lift in points against the control group, per cell, per wave and overall, with its
    95 % interval (a forest plot: an interval that crosses 0 is no measurable effect)."""
    rows = [c for c in report["cells"] if c.get("lift")]
    rows += [w["total"] for w in report["waves"] if w["total"].get("lift")]
    if report["total"].get("lift"):
        rows.append(report["total"])
    diffs = [r["lift"]["conversion"]["diff"] * 100 for r in rows]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "x": diffs,
                "y": [r["label"] for r in rows],
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        r["lift"]["conversion"]["ci_high"] * 100 - d
                        for r, d in zip(rows, diffs, strict=True)
                    ],
                    "arrayminus": [
                        d - r["lift"]["conversion"]["ci_low"] * 100
                        for r, d in zip(rows, diffs, strict=True)
                    ],
                },
                "marker": {"color": PALETTE[1], "size": 10},
                "hovertemplate": "%{y}: %{x:+.2f} points<extra></extra>",
            }
        ],
        "layout": _layout(
            gettext("Lift against the control group (points, 95 % interval)"),
            xaxis={"zeroline": True, "zerolinecolor": "#b5485d", "ticksuffix": " pt"},
            yaxis={"automargin": True},
            showlegend=False,
        ),
    }


BUILDERS: dict[str, Callable[[dict[str, Any], Gettext], Figure]] = {
    "funnel": funnel,
    "conversion": conversion,
    "lift": lift,
}
