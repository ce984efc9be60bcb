"""Gate configuration: quality/gates.yml, with the data dir's own file laid over it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

DEFAULTS = Path(__file__).parent / "gates.yml"
Severity = Literal["error", "warn"]
KINDS = ("schema", "reconciliation", "freshness", "volume", "distribution", "coverage")


class GateConfigError(Exception):
    """A gates.yml that cannot be used; names the file and the problem."""


@dataclass(frozen=True)
class GateConfig:
    severity: dict[str, Severity]
    extract_lag_days: dict[str, int]
    freshness_days: dict[str, int]
    volume_min_ratio: dict[str, float]
    volume_reference_weekdays: int
    distribution_sigmas: float
    distribution_min_sd: float
    distribution_min_weeks: int
    volume_min_reference_rows: int
    mart_volume_min_previous_rows: int
    unmapped_share_max: float


def _read(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise GateConfigError(f"{path}: cannot be read as YAML ({exc})") from None
    if not isinstance(document, dict):
        raise GateConfigError(f"{path}: expected settings at the top level")
    return document


def load_gate_config(override: Path | None = None) -> GateConfig:
    document = _read(DEFAULTS)
    if override is not None and override.is_file():
        extra = _read(override)
        unknown = sorted(set(extra) - set(document))
        if unknown:
            raise GateConfigError(f"{override}: unknown setting(s) {unknown}")
        for key, value in extra.items():
            document[key] = {**document[key], **value} if isinstance(value, dict) else value
    severity = document["severity"]
    bad = {k: v for k, v in severity.items() if k not in KINDS or v not in ("error", "warn")}
    if bad:
        raise GateConfigError(f"severity must map {list(KINDS)} to error or warn, got {bad}")
    return GateConfig(
        severity=dict(severity),
        extract_lag_days={k: int(v) for k, v in document["extract_lag_days"].items()},
        freshness_days={k: int(v) for k, v in document["freshness_days"].items()},
        volume_min_ratio={k: float(v) for k, v in document["volume_min_ratio"].items()},
        volume_reference_weekdays=int(document["volume_reference_weekdays"]),
        distribution_sigmas=float(document["distribution_sigmas"]),
        distribution_min_sd=float(document["distribution_min_sd"]),
        distribution_min_weeks=int(document["distribution_min_weeks"]),
        volume_min_reference_rows=int(document["volume_min_reference_rows"]),
        mart_volume_min_previous_rows=int(document["mart_volume_min_previous_rows"]),
        unmapped_share_max=float(document["unmapped_share_max"]),
    )
