"""QR codes drawn as inline SVG (segno: pure Python, nothing fetched, no image file)."""

from __future__ import annotations

from markupsafe import Markup


def qr_svg(url: str, *, scale: int = 4) -> Markup:
    """``url`` as a QR code in an ``<svg>`` element to place in a page (error correction M, so
    a creased print-out or a cracked phone screen still reads)."""
    import segno  # loaded only by the pages that draw a code

    return Markup(segno.make(url, error="m").svg_inline(scale=scale, omitsize=False))  # noqa: S704
