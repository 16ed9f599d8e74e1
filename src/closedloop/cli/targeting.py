"""``closedloop targeting``: who is likely to buy a category (propensity), as a ranked list or
a snapshot segment, e.g. ``closedloop targeting propensity --category running --top 5000
--segment likely-runners``.
"""

from __future__ import annotations

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, print_json, session_scope

targeting_app = typer.Typer(
    name="targeting",
    help="Targeting: rank persons by propensity to buy a category, freeze the best as a segment.",
    no_args_is_help=True,
)


@targeting_app.command("propensity")
def propensity_cmd(
    category: str = typer.Option(..., "--category", help="Category code (with subcategories)."),
    horizon: int = typer.Option(180, "--horizon", help="Days of the buying window (7-730)."),
    top: int | None = typer.Option(None, "--top", min=1, help="Freeze the N best-ranked persons."),
    threshold: float | None = typer.Option(
        None, "--threshold", min=0.0, max=1.0, help="Freeze persons scoring at least this."
    ),
    segment: str | None = typer.Option(None, "--segment", help="Name of the snapshot segment."),
    show: int = typer.Option(10, "--show", min=0, max=1000, help="Best persons to list."),
    json_output: bool = JsonOption,
) -> None:
    """Rank every person by propensity to buy a category, evaluated out of time (AUC, lift by
    decile, calibration); with --segment, freeze the --top N (or --threshold) as a segment."""
    from closedloop.errors import ValidationFailed
    from closedloop.targeting import propensity, propensity_segment

    with session_scope() as session:
        if segment is None and (top is not None or threshold is not None):
            raise ValidationFailed(
                "--top and --threshold choose the members of a segment: name it with --segment.",
                errors=[{"field": "segment", "message": "missing"}],
            )
        result = propensity(session, category, horizon_days=horizon)
        data = result.as_dict(top=show)
        if segment is not None:
            data["segment"] = propensity_segment(
                session, result, segment, top=top, threshold=threshold, created_by="cli"
            )
    if json_output:
        print_json(data)
        return
    console.print(
        f"Propensity to buy [bold]{category}[/bold] within {horizon} days: "
        f"AUC {data['auc']:.3f} out of time (base rate {data['base_rate']:.2%}, "
        f"{data['test_positives']:,} buyers among {data['persons']:,} persons)"
    )
    table = Table("Decile", "Persons", "Buy rate", "Lift")
    for d in data["lift_by_decile"]:
        table.add_row(str(d["decile"]), f"{d['persons']:,}", f"{d['rate']:.2%}", f"{d['lift']:.2f}")
    console.print(table)
    for row in data["top"]:
        console.print(f"  person {row['person_id']}: {row['score']:.3f}")
    if "segment" in data:
        seg = data["segment"]
        console.print(f"Segment [bold]{seg['name']}[/bold]: {seg['members']:,} persons frozen.")


@targeting_app.command("recommend")
def recommend_cmd(
    person_id: int | None = typer.Argument(None, min=1, help="The person to recommend for."),
    n: int = typer.Option(5, "--n", min=1, max=100, help="How many products."),
    evaluate: bool = typer.Option(
        False, "--evaluate", help="Hide each person's last purchase; report hit-rate@n and MRR."
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Evaluate on at most this many persons."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Next best products for a person (co-purchase and category affinity, never one already
    bought or inactive), or with --evaluate the offline evaluation against popularity."""
    from closedloop.errors import ValidationFailed
    from closedloop.targeting.recommend import evaluate as run_evaluation
    from closedloop.targeting.recommend import recommend

    with session_scope() as session:
        if evaluate:
            data: object = run_evaluation(session, k=n, max_persons=limit)
        elif person_id is None:
            raise ValidationFailed(
                "Name a person (closedloop targeting recommend 42) or give --evaluate.",
                errors=[{"field": "person_id", "message": "missing"}],
            )
        else:
            from closedloop.contacts.models import Person

            if session.get(Person, person_id) is None:
                raise ValidationFailed(
                    f"Person {person_id} does not exist.",
                    errors=[{"field": "person_id", "message": "no such person"}],
                )
            data = recommend(session, person_id, n)
    if json_output:
        print_json(data)
        return
    if isinstance(data, dict):
        console.print(
            f"Hiding each person's last purchase ({data['persons']:,} persons), top {data['k']}:"
        )
        for name in ("model", "popularity"):
            m = data[name]
            console.print(f"  {name:<10} hit-rate {m['hit_rate']:.2%}  MRR {m['mrr']:.4f}")
        return
    assert isinstance(data, list)
    for item in data:
        console.print(f"  {item['sku']}  {item['name']}")


@targeting_app.command("clusters")
def clusters_cmd(
    k: int | None = typer.Option(
        None, "--k", help="Number of clusters (2-12); default: best silhouette."
    ),
    cluster: int | None = typer.Option(
        None, "--cluster", min=1, help="Cluster to freeze as a segment."
    ),
    segment: str | None = typer.Option(None, "--segment", help="Name of that segment."),
    json_output: bool = JsonOption,
) -> None:
    """Cluster buyers on behaviour (k-means, k by silhouette), name each cluster from its
    profile; with --cluster N --segment NAME, freeze cluster N as a snapshot segment."""
    from closedloop.errors import ValidationFailed
    from closedloop.targeting.clusters import cluster_segment, clusters

    with session_scope() as session:
        if (cluster is None) != (segment is None):
            raise ValidationFailed(
                "--cluster and --segment go together: which cluster, under which name.",
                errors=[{"field": "segment", "message": "give both or neither"}],
            )
        result = clusters(session, k)
        data = {key: value for key, value in result.items() if key != "members"}
        if cluster is not None and segment is not None:
            data["segment"] = cluster_segment(session, result, cluster, segment, created_by="cli")
    if json_output:
        print_json(data)
        return
    console.print(
        f"{data['k']} clusters of {data['buyers']:,} buyers (silhouette {data['silhouette']})"
    )
    table = Table("Cluster", "Name", "Persons", "Recency (d)", "Orders", "Spend")
    for c in data["clusters"]:
        p = c["profile"]
        table.add_row(
            str(c["cluster"]),
            c["name"],
            f"{c['persons']:,}",
            f"{p['recency_days']:.0f}",
            f"{p['frequency']:.0f}",
            f"{p['monetary']:.2f}",
        )
    console.print(table)
    if "segment" in data:
        console.print(
            f"Segment [bold]{data['segment']['name']}[/bold]: "
            f"{data['segment']['members']:,} persons."
        )


@targeting_app.command("uplift")
def uplift_cmd(
    campaign: str = typer.Option(
        ..., "--campaign", help="Code of a past campaign with a control group."
    ),
    days: int | None = typer.Option(
        None, "--days", min=1, max=730, help="Response window in days (default: the campaign's)."
    ),
    show: int = typer.Option(10, "--show", min=0, max=1000, help="Most moved persons to list."),
    top_share: float | None = typer.Option(
        None, "--top-share", help="Share of the members to freeze, best uplift first (0.3: 30 %)."
    ),
    segment: str | None = typer.Option(None, "--segment", help="Name of that segment."),
    json_output: bool = JsonOption,
) -> None:
    """Which persons a past campaign moved: two models (targeted and control members), judged
    on held-out members by the Qini curve and coefficient (0 = random targeting); with
    --top-share 0.3 --segment NAME, freeze the best 30 % by uplift as a snapshot segment."""
    from closedloop.errors import ValidationFailed
    from closedloop.targeting.uplift import campaign_uplift, uplift_segment

    with session_scope() as session:
        if (top_share is None) != (segment is None):
            raise ValidationFailed(
                "--top-share and --segment go together: which share, under which name.",
                errors=[{"field": "segment", "message": "give both or neither"}],
            )
        data = campaign_uplift(session, campaign, days=days)
        if top_share is not None and segment is not None:
            data["segment"] = uplift_segment(session, data, top_share, segment, created_by="cli")
    ranking = data.pop("ranking")
    data["top"] = [{"person_id": p, "uplift": u} for p, u in ranking[:show]]
    if json_output:
        print_json(data)
        return
    console.print(
        f"Campaign [bold]{campaign}[/bold]: bought {data['response_treated']:.2%} of "
        f"{data['treated']:,} targeted, {data['response_control']:.2%} of {data['control']:,} "
        f"in control; Qini coefficient {data['qini_coefficient']:.4f} (0 = random)"
    )
    table = Table("Decile", "Persons", "Predicted uplift", "Observed uplift")
    for d in data["deciles"]:
        table.add_row(str(d["decile"]), f"{d['persons']:,}", f"{d['predicted']:.2%}",
                      f"{d['observed']:.2%}")  # fmt: skip
    console.print(table)
    for row in data["top"]:
        console.print(f"  person {row['person_id']}: {row['uplift']:+.3f}")
    if "segment" in data:
        made = data["segment"]
        console.print(f"Segment [bold]{made['name']}[/bold]: {made['members']:,} persons.")


@targeting_app.command("markets")
def markets_cmd(
    category: str = typer.Option(..., "--category", help="Category code (with subcategories)."),
    horizon: int = typer.Option(365, "--horizon", min=7, max=3650, help="Days of purchases."),
    channel: str = typer.Option("email", "--channel", help="Channel whose consent makes reach."),
    json_output: bool = JsonOption,
) -> None:
    """Target markets (countries) for a category, ranked by size x expected value x
    reachability (share with marketing consent on the channel)."""
    from closedloop.targeting.market import markets

    with session_scope() as session:
        rows = markets(session, category, horizon_days=horizon, channel=channel)
    if json_output:
        print_json(rows)
        return
    table = Table("Market", "Persons", "Buy rate", "Expected value", "Reach", "Score")
    for m in rows:
        table.add_row(m["market"], f"{m['persons']:,}", f"{m['buy_rate']:.2%}",
                      f"{m['expected_value']:.2f}", f"{m['reachability']:.0%}",
                      f"{m['score']:,.0f}")  # fmt: skip
    console.print(table)


@targeting_app.command("compare")
def compare_cmd(
    first: str = typer.Argument(..., help="First segment (name or id)."),
    second: str = typer.Argument(..., help="Second segment (name or id)."),
    json_output: bool = JsonOption,
) -> None:
    """Profile two segments side by side: mean recency, orders, spend… and Cohen's d."""
    from closedloop.targeting.market import compare

    with session_scope() as session:
        data = compare(session, first, second)
    if json_output:
        print_json(data)
        return
    table = Table("Feature", data["first"]["name"], data["second"]["name"], "Cohen's d", "Effect")
    for r in data["features"]:
        table.add_row(r["feature"], f"{r['first']:,}", f"{r['second']:,}",
                      f"{r['cohens_d']}", r["effect"])  # fmt: skip
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``closedloop targeting`` to ``app``."""
    app.add_typer(targeting_app)
