"""The page both packs share: inline CSS, escaped cells, formatted figures."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape

CSS = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #1f2933; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 0; } h2 { font-size: 18px; margin-top: 32px;
     border-bottom: 2px solid #e4e7eb; padding-bottom: 4px; }
.meta { color: #616e7c; margin-top: 4px; }
table { border-collapse: collapse; margin: 8px 0 4px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e4e7eb; text-align: right; }
th { background: #f5f7fa; font-weight: 600; } td.text, th.text { text-align: left; }
.low { color: #9aa5b1; font-style: italic; } .note { color: #616e7c; font-size: 13px; }
.up { color: #1a7f37; } .down { color: #b42318; }
.green { background: #d3f9d8; } .amber { background: #fff3bf; } .red { background: #ffc9c9; }
.insufficient_data { background: #f1f3f5; color: #868e96; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 9px; font-size: 12px; }
.warn { background: #fff3bf; } .melon { background: #ffc9c9; }
svg text { font-size: 11px; fill: #3e4c59; }
svg .line { fill: none; stroke: #3b5bdb; stroke-width: 1.6; } svg .dot { fill: #3b5bdb; }
svg .gap { fill: #ced4da; } svg .ref { stroke: #e8590c; stroke-dasharray: 4 3; }
svg .bar { fill: #748ffc; }
"""


def page(title: str, subtitle: str, sections: Iterable[str]) -> str:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="meta">{escape(subtitle)} · generated {generated} '
        "from the published marts</p>\n"
        f"{body}\n</body></html>\n"
    )


def section(heading: str, *content: str) -> str:
    return f"<section><h2>{escape(heading)}</h2>{''.join(content)}</section>"


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: object, digits: int = 1, unit: str = "", signed: bool = False) -> str:
    if missing(value):
        return "–"
    sign = "+" if signed else ""
    return f"{float(value):{sign},.{digits}f}{unit}"


def percent(value: object) -> str:
    return "–" if missing(value) else f"{float(value) * 100:.0f} %"


def low_sample(responses: object) -> str:
    """What a cell with too few answers shows instead of a figure (never a zero)."""
    count = 0 if missing(responses) else int(responses)
    return f'<span class="low">low sample (n={count})</span>'


def delta(
    value: object, digits: int = 1, unit: str = "", higher_is_better: bool | None = True
) -> str:
    """A signed change, green when better and red when worse (uncoloured when neither)."""
    if missing(value):
        return "–"
    better = (float(value) > 0) == higher_is_better
    css = "" if float(value) == 0 or higher_is_better is None else ("up" if better else "down")
    return f'<span class="{css}">{float(value):+,.{digits}f}{unit}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], text_columns: int = 1) -> str:
    """Cells are HTML already (callers escape text with `cell`); the first columns are text."""
    head = "".join(
        f'<th class="{"text" if i < text_columns else ""}">{escape(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"text" if i < text_columns else ""}">{value}</td>'
            for i, value in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def cell(text: object) -> str:
    return escape("" if missing(text) else str(text))
