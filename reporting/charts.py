"""Small inline SVG charts: a pack must open with no network, so no chart library, no JS."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 220, 56, 6
CAP = 2  # half-width of a whisker's caps


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _whisker(x: float, bottom: float, top: float, title: str) -> str:
    """A vertical line from `bottom` to `top` with a short cap at each end."""
    lines = [(x, x, bottom, top), (x - CAP, x + CAP, bottom, bottom), (x - CAP, x + CAP, top, top)]
    return (
        f'<g class="ci"><title>{escape(title)}</title>'
        + "".join(
            f'<line x1="{_fmt(x1)}" x2="{_fmt(x2)}" y1="{_fmt(y1)}" y2="{_fmt(y2)}"/>'
            for x1, x2, y1, y2 in lines
        )
        + "</g>"
    )


def trend(
    values: Sequence[float | None],
    labels: Sequence[str],
    reference: float | None = None,
    reference_label: str = "target",
    low: float = -100.0,
    high: float = 100.0,
    intervals: Sequence[tuple[float, float] | None] | None = None,
) -> str:
    """A sparkline of `values` (None = no figure that period: a gap, not a zero).

    `reference` draws a dashed line (the target). `intervals` (one per value, None where there
    is none) draw each point's 95 % interval as a whisker. The scale is fixed (e.g. -100..100 for
    happiness) so sparklines of different services compare at a glance; it widens only to keep
    a whisker whole.
    """
    if not values:
        return ""
    whiskers = list(intervals or [None] * len(values))
    bounds = [bound for pair in whiskers if pair is not None for bound in pair]
    low, high = min([low, *bounds]), max([high, *bounds])
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)

    def y(value: float) -> float:
        clipped = min(max(value, low), high)
        return HEIGHT - PAD - (clipped - low) / (high - low) * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        'role="img">'
    ]
    if reference is not None:
        parts.append(
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{_fmt(y(reference))}" '
            f'y2="{_fmt(y(reference))}" class="ref"><title>{escape(reference_label)} '
            f"{reference:g}</title></line>"
        )
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, value in enumerate(values):
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{_fmt(PAD + i * step)},{_fmt(y(value))}")
    if segment:
        segments.append(segment)
    parts.extend(
        _whisker(
            PAD + i * step,
            y(pair[0]),
            y(pair[1]),
            f"{label}: 95 % interval {pair[0]:.1f} … {pair[1]:.1f}",
        )
        for i, (pair, label) in enumerate(zip(whiskers, labels, strict=True))
        if pair is not None
    )
    parts.extend(
        f'<polyline points="{" ".join(points)}" class="line"/>'
        for points in segments
        if len(points) > 1
    )
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        if value is None:
            parts.append(
                f'<circle cx="{_fmt(PAD + i * step)}" cy="{HEIGHT - PAD}" r="2" class="gap">'
                f"<title>{escape(label)}: no figure (low sample)</title></circle>"
            )
        else:
            parts.append(
                f'<circle cx="{_fmt(PAD + i * step)}" cy="{_fmt(y(value))}" r="2.5" class="dot">'
                f"<title>{escape(label)}: {value:.1f}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def bars(items: Sequence[tuple[str, float]], unit: str = "", width: int = 360) -> str:
    """Horizontal bars, largest first as given; labels and values printed beside each bar."""
    if not items:
        return ""
    row, label_w = 18, 190
    top = max(value for _, value in items) or 1.0
    height = row * len(items) + 4
    parts = [
        f'<svg class="bars" viewBox="0 0 {label_w + width + 70} {height}" '
        f'width="{label_w + width + 70}" height="{height}" role="img">'
    ]
    for i, (label, value) in enumerate(items):
        y = 2 + i * row
        length = max(value, 0) / top * width
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{_fmt(length)}" height="{row - 6}" '
            f'class="bar"/><text x="{label_w + length + 4:.1f}" y="{y + 12}">'
            f"{value:,.1f}{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def columns(
    items: Sequence[tuple[str, float | None]], unit: str = "", column: int = 96, height: int = 120
) -> str:
    """Vertical bars side by side in the order given, from a zero base so heights read as ratios.

    None draws no bar but says "low sample" in grey (a group too small to show), never a bar of
    zero.
    """
    if not items:
        return ""
    bar, value_row, label_row = 40, 14, 16
    base = height - label_row
    top = max((value for _, value in items if value is not None), default=0.0) or 1.0
    plot = base - value_row - PAD
    width = column * len(items) + 2 * PAD
    parts = [
        f'<svg class="columns" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img">'
    ]
    for i, (label, value) in enumerate(items):
        middle = PAD + i * column + column / 2
        if value is None:
            parts.append(
                f'<text x="{_fmt(middle)}" y="{base - 2}" text-anchor="middle" class="gap">'
                f"low sample<title>{escape(label)}: no figure (low sample)</title></text>"
            )
        else:
            length = max(value, 0) / top * plot
            parts.append(
                f'<rect x="{_fmt(middle - bar / 2)}" y="{_fmt(base - length)}" width="{bar}" '
                f'height="{_fmt(length)}" class="bar"><title>{escape(label)}: {value:,.1f}'
                f"{escape(unit)}</title></rect>"
                f'<text x="{_fmt(middle)}" y="{_fmt(base - length - 3)}" text-anchor="middle">'
                f"{value:,.1f}{escape(unit)}</text>"
            )
        parts.append(
            f'<text x="{_fmt(middle)}" y="{height - 3}" text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
