"""The pieces a report section is made of: plain data, escaped by the template (Jinja2 autoescape).

A section returns a list of blocks; ``templates/blocks.html.j2`` renders each kind. No block holds HTML: text
is text (escaped when rendered), and the only markup a cell can ask for is a :class:`Link` (http(s) only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: the only permalinks that become links (the posts' own http(s) URLs).
HTTP_URL = re.compile(r"^https?://[^\s\"'<>]+$")


@dataclass(frozen=True)
class Link:
    """A link in a table cell or list; ``href`` is http(s) (checked by :func:`link`)."""

    text: str
    href: str
    suffix: str = ""  # plain text right after the link (e.g. " (D = 0.12)")
    kind: str = "link"


class Block:
    """Base of every block; each subclass sets ``kind`` (the template's switch)."""

    kind = "block"


@dataclass(frozen=True)
class P(Block):
    text: str
    cls: str | None = None
    kind: str = "p"


def Note(text: str) -> P:  # noqa: N802 (a block constructor)
    """A muted italic remark: what is not available and why."""
    return P(text, "note")


def Warn(text: str) -> P:  # noqa: N802
    return P(text, "warning")


def Meta(text: str) -> P:  # noqa: N802
    return P(text, "meta")


@dataclass(frozen=True)
class Heading(Block):
    level: int
    text: str
    id: str | None = None
    kind: str = "heading"


@dataclass(frozen=True)
class UL(Block):
    items: tuple[Any, ...]
    kind: str = "ul"


def ul(items: Iterable[Any]) -> UL | None:
    items = tuple(items)
    return UL(items) if items else None


@dataclass(frozen=True)
class Table(Block):
    """A captioned table; ``numeric`` columns align right; with ``row_headers`` each row's first cell is a th.

    Cells are text, a :class:`Link`, or a list of text and links (joined with "; ").
    """

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    numeric: tuple[int, ...] = ()
    row_headers: bool = False
    wide: bool = False  # many or long columns: at phone width the table scrolls inside its own box
    kind: str = "table"


def table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[int] = (),
          row_headers: bool = False, wide: bool | None = None) -> Table:
    rows = tuple(tuple(r) for r in rows)
    wide = len(headers) > 4 if wide is None else wide
    return Table(caption, tuple(headers), rows, tuple(numeric), row_headers, wide)


@dataclass(frozen=True)
class Figure(Block):
    png_base64: str
    alt: str
    caption: str
    kind: str = "figure"


@dataclass(frozen=True)
class Keys(Block):
    """The key-figure cards: (label, value, change or "")."""

    items: tuple[tuple[str, str, str], ...]
    kind: str = "keys"


@dataclass(frozen=True)
class Details(Block):
    """A collapsible part (closed on screen, open in print)."""

    summary: str
    blocks: tuple[Any, ...] = field(default_factory=tuple)
    kind: str = "details"


def link(url: Any, label: str, *, fallback: str | None = None) -> Any:
    """``label`` as a link when ``url`` is http(s); else ``fallback`` (default: label and the url as text)."""
    if isinstance(url, str) and HTTP_URL.match(url.strip()):
        return Link(label, url.strip())
    if fallback is not None:
        return fallback
    if isinstance(url, str) and url.strip():
        return f"{label} ({url})"
    return f"{label} (no link)"


def permalink(url: Any) -> Any:
    """A link "open post" when the permalink is http(s); other schemes are shown as text only."""
    if not isinstance(url, str) or not HTTP_URL.match(url.strip()):
        return "no link" if not isinstance(url, str) or not url else url
    return Link("open post", url.strip())
