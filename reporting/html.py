"""What both packs share: the Jinja2 environment that renders them and the figures' formats.

Python computes and formats; the templates in reporting/templates present. Autoescaping is on,
so a service name or factor reaches the page as text; only chart SVG, whose text the chart
helpers escape themselves, is marked safe (`chart`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

# PackageLoader finds the templates both in the source tree and in an installed wheel
# (pyproject.toml ships reporting/templates as package data).
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("reporting", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, **context: Any) -> str:
    """A whole pack page; `context` holds formatted figures, never data to compute from."""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return _TEMPLATES.get_template(template).render(generated=generated, **context)


def chart(svg: str) -> Markup:
    """An inline SVG from reporting.charts, whose labels the chart helpers have escaped."""
    return Markup(svg)


@dataclass(frozen=True)
class Figure:
    """A formatted figure with the class that marks it: `low`, `up` (better), `down` (worse)."""

    text: str
    css: str = ""
    title: str = ""


def missing(value: object) -> bool:
    """No figure: None, NaN, or pandas' NA (how DuckDB hands over a NULL integer or boolean)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def number(value: object, digits: int = 1, unit: str = "", signed: bool = False) -> str:
    if missing(value):
        return "–"
    sign = "+" if signed else ""
    return f"{float(value):{sign},.{digits}f}{unit}"


def percent(value: object) -> str:
    return "–" if missing(value) else f"{float(value) * 100:.0f} %"


def interval(
    value: object, low: object, high: object, digits: int = 1, unit: str = "", signed=False
) -> str:
    """A figure with its 95 % interval, "+48.0 (41.2 … 54.8)"; the figure alone without one."""
    shown = number(value, digits, unit, signed)
    if missing(value) or missing(low) or missing(high):
        return shown
    return f"{shown} ({number(low, digits)} … {number(high, digits)})"


def plus_minus(value: object, unit: str, digits: int = 0) -> str:
    """A half-width such as a minimum detectable change, "±12 pts"."""
    return "–" if missing(value) else f"±{float(value):,.{digits}f}{unit}"


def low_sample(responses: object) -> Figure:
    """What a cell with too few answers shows instead of a figure (never a zero)."""
    count = 0 if missing(responses) else int(responses)
    return Figure(f"low sample (n={count})", "low")


def delta(
    value: object, digits: int = 1, unit: str = "", higher_is_better: bool | None = True
) -> Figure | str:
    """A signed change, green when better and red when worse (uncoloured when neither)."""
    if missing(value):
        return "–"
    better = (float(value) > 0) == higher_is_better
    css = "" if float(value) == 0 or higher_is_better is None else ("up" if better else "down")
    return Figure(f"{float(value):+,.{digits}f}{unit}", css)


@dataclass(frozen=True)
class Indicator:
    """How an indicator's figures read: label, digits and unit; a share shows as a percentage."""

    label: str
    digits: int = 1
    unit: str = ""
    signed: bool = False
    is_share: bool = False
    # The unit of a ± on the indicator's scale (a minimum detectable change).
    noise_unit: str = ""
    # The landing source its figures come from (an undeclared one leaves it out of the packs).
    source: str = "itsm"

    def show(self, value: Any) -> str:
        if self.is_share:
            return percent(value)
        return number(value, self.digits, self.unit, self.signed)

    def with_interval(self, value: Any, low: Any, high: Any) -> str:
        if self.is_share or missing(low) or missing(high):
            return self.show(value)
        return interval(value, low, high, self.digits, self.unit, self.signed)

    def noise(self, half_width: Any) -> str:
        return plus_minus(half_width, self.noise_unit)

    def change(self, value: Any, higher_is_better: bool) -> Figure | str:
        if self.is_share:
            value = None if missing(value) else value * 100
            return delta(value, 0, " pts", higher_is_better)
        return delta(value, self.digits, self.unit, higher_is_better)


INDICATORS = {
    "happiness_score": Indicator("Happiness", signed=True, noise_unit=" pts", source="survey"),
    "avg_lost_time_minutes": Indicator(
        "Lost time / answer", 0, " min", noise_unit=" min", source="survey"
    ),
    "response_rate": Indicator("Response rate", is_share=True, source="survey"),
    "mttr_hours": Indicator("MTTR", 1, " h"),
    "sla_attainment": Indicator("SLA met", is_share=True),
    "reopen_rate": Indicator("Reopen rate", is_share=True),
    "dex_score": Indicator("DEX", source="device"),
}


def service(name: object, service_id: object, badge: str = "") -> dict[str, str]:
    """A service as every table names it: its name, then its id in small print."""
    return {
        "name": "" if missing(name) else str(name),
        "id": "" if missing(service_id) else str(service_id),
        "badge": badge,
    }
