"""Third-party browser code shipped inside Python packages, served from this site; and the
site's icon at its classic address.

Plotly's bundle (4.8 MB, from the installed ``plotly`` package; never a CDN) has one address
for every chart page, named after the package's version: a browser fetches it once and keeps
it (``immutable``, one year) until an upgrade changes the address. It is sent gzip-compressed
(about 1.4 MB) to browsers that accept it, compressed once per process.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import plotly
from fastapi import Path as PathParam
from fastapi import Request
from fastapi.responses import Response

from closedloop.web.routes import page_router
from closedloop.web.security import not_found

router = page_router(public=True)

#: The address of Plotly's bundle (templates: ``{{ plotly_url }}``).
PLOTLY_URL = f"/vendor/plotly-{plotly.__version__}.min.js"
#: Cached by browsers and proxies for a year: the address changes with the version.
LONG_CACHE = "public, max-age=31536000, immutable"


def plotly_path() -> Path:
    """The Plotly bundle inside the installed plotly package."""
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@lru_cache(maxsize=1)
def _plotly_bytes() -> tuple[bytes, bytes]:
    """The bundle as it is and gzip-compressed (computed on first use, then kept)."""
    raw = plotly_path().read_bytes()
    return raw, gzip.compress(raw, compresslevel=6, mtime=0)


@router.get("/favicon.ico", response_class=Response)
def favicon() -> Response:
    """The site's icon for browsers that ask for it by its classic name (pages link the SVG)."""
    icon = Path(__file__).parents[1] / "static" / "favicon.svg"
    return Response(
        icon.read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/vendor/plotly-{version}.min.js", response_class=Response)
def plotly_bundle(request: Request, version: Annotated[str, PathParam(max_length=40)]) -> Response:
    """Plotly's JavaScript from the installed plotly package: long-cached, gzip when accepted.
    Another version than the installed one is not found."""
    if version != plotly.__version__:
        raise not_found()
    raw, packed = _plotly_bytes()
    headers = {"Cache-Control": LONG_CACHE, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type="text/javascript", headers=headers)
    return Response(raw, media_type="text/javascript", headers=headers)
