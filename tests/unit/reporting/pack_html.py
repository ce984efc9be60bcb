"""Reading a pack as its reader does: the rows of a section's tables, the charts of a row."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser


@dataclass(frozen=True)
class Cell:
    text: str
    classes: frozenset[str]  # the classes of the spans inside the cell


class _Sections(HTMLParser):
    """Each section's table rows by its heading; a cell's text leaves out charts (SVG)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[list[Cell]]] = {}
        self._heading: list[str] | None = None
        self._rows: list[list[Cell]] = []
        self._cell: tuple[list[str], set[str]] | None = None
        self._svg = 0

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self._heading, self._rows = [], []
        elif tag == "svg":
            self._svg += 1
        elif tag == "tr":
            self._rows.append([])
        elif tag == "td":
            self._cell = ([], set())
        elif tag == "span" and self._cell is not None:
            self._cell[1].update((dict(attrs).get("class") or "").split())

    def handle_endtag(self, tag):
        if tag == "h2" and self._heading is not None:
            self.sections["".join(self._heading)] = self._rows
            self._heading = None
        elif tag == "svg":
            self._svg -= 1
        elif tag == "td" and self._cell is not None:
            text = re.sub(r"\s+", " ", "".join(self._cell[0])).strip()
            self._rows[-1].append(Cell(text, frozenset(self._cell[1])))
            self._cell = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)
        elif self._cell is not None and not self._svg:
            self._cell[0].append(data)


def section_rows(html: str, heading: str) -> list[list[Cell]]:
    """The body rows of the tables under the section whose heading starts with `heading`."""
    parser = _Sections()
    parser.feed(html)
    [rows] = [rows for name, rows in parser.sections.items() if name.startswith(heading)]
    return [row for row in rows if row]


def service_id(cell: Cell) -> str:
    return re.search(r"SVC\d+", cell.text)[0]


def trends(html: str) -> dict[str, ET.Element]:
    """The happiness trend of each service row, parsed as SVG."""
    rows = re.findall(r"<tr>.*?</tr>", html.split("</table>")[0], re.S)
    return {
        re.search(r"<small>(SVC\d+)</small>", row)[1]: ET.fromstring(
            re.search(r'<svg class="trend".*?</svg>', row)[0]
        )
        for row in rows
        if "<small>" in row
    }


def paragraphs(html: str, css: str) -> list[str]:
    """The text of each paragraph of class `css` (a callout, a comparison), as it reads."""
    return [
        re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", body))).strip()
        for body in re.findall(rf'<p class="{css}">(.*?)</p>', html, re.S)
    ]
