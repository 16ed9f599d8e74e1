"""The plain-text part of an email, derived once from its HTML *template*.

Converting each rendered message would cost more than rendering it. The HTML template is
converted instead, with its Jinja tags (``{{ … }}``, ``{% … %}``, ``{# … #}``) set aside
first and put back verbatim, so the text template renders the same values as the HTML one:
paragraphs and headings become blocks separated by a blank line, list items get ``- ``,
a link becomes ``label (address)``, images give their ``alt`` text, ``<style>``, ``<head>``
and ``<script>`` vanish. Python's :mod:`html.parser` is a tokenizer: it keeps the tags in
the order written, so a ``{% for %}`` around table rows stays around them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_MARK = re.compile(r"\x1a(\d+)\x1a")
_BLOCK = {
    "p",
    "div",
    "table",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "hr",
}
_HIDDEN = {"style", "script", "head", "title"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0
        self.links: list[str | None] = []
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCK:
            self.out.append("\n\n")
        elif tag == "br" or tag == "tr":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag == "td" or tag == "th":
            self.out.append(" ")
        elif tag == "pre":
            self.pre += 1
            self.out.append("\n\n")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(alt)
        elif tag == "a":
            href = dict(attrs).get("href")
            self.links.append(href)
            self.out.append("\x00")  # where the label starts

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK:
            self.out.append("\n\n")
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self.out.append("\n\n")
        elif tag == "a" and self.links:
            href = self.links.pop()
            start = len(self.out) - 1 - self.out[::-1].index("\x00") if "\x00" in self.out else -1
            label = "".join(self.out[start + 1 :]).strip() if start >= 0 else ""
            if start >= 0:
                del self.out[start:]
            if href and not href.startswith(("mailto:", "#")) and href != label:
                self.out.append(f"{label} ({href})" if label else href)
            else:
                self.out.append(label)

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        self.out.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """The text version of ``html`` (a template or a rendered message)."""
    kept: list[str] = []

    def keep(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return f"\x1a{len(kept) - 1}\x1a"

    parser = _Text()
    parser.feed(_JINJA.sub(keep, html))
    parser.close()
    text = "".join(p for p in parser.out if p != "\x00")
    lines = [line.strip(" ") for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
    return _MARK.sub(lambda m: kept[int(m.group(1))], text)
