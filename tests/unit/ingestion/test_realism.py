"""The synthetic organisation keeps DOMAIN §5's figures, and the report can tell when it does not.

The organisation measured here is the benchmark's S (2,000 employees, 91 days). At that size a
survey figure rests on a few hundred answers and lost time is heavy-tailed by design, so those
figures move from seed to seed: each is held to DOMAIN's range widened by the allowance below,
2.5 standard deviations of the figure over seeds 1-20 (measured when written; every seed of
1-20 passes). Every other figure is held to DOMAIN's range itself. The demo-sized organisation
is held to the unwidened ranges in tests/integration/test_realism_of_the_demo.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ingestion.synthetic import calibration
from ingestion.synthetic.generator import GeneratorConfig, generate
from ingestion.synthetic.realism import (
    TARGETS,
    RealismReport,
    _slope,
    _top_share,
    format_report,
    measure_landing,
)
from orchestration.cli import main
from orchestration.settings import PROJECT_SEEDS_DIR

BENCHMARK_S = GeneratorConfig(employees=2_000, days=91, start=date(2025, 1, 6))
# Standard deviations over seeds 1-20 at S: happiness 3.6 (incidents) and 2.8 (requests)
# points, 2.0 points per reassignment; mean lost time 26 min (both types), 17 min per
# reassignment; 1.3 points of the top share; 0.54 h on the P1 median (about 80 P1 tickets).
ALLOWANCE = {
    "happiness_incidents": 9.0,
    "happiness_requests": 7.0,
    "happiness_per_reassignment": 5.0,
    "lost_time_incidents": 70.0,
    "lost_time_requests": 70.0,
    "lost_time_per_reassignment": 45.0,
    "lost_time_top_share": 0.04,
    "mttr_p1": 1.5,
}


def _measure(root, config: GeneratorConfig) -> RealismReport:
    generate(root / "landing", root / "reference", PROJECT_SEEDS_DIR, config, root / "mappings")
    return measure_landing(root / "landing", root / "reference", root / "mappings")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_benchmark_sized_organisation_keeps_every_domain_figure(tmp_path, seed):
    report = _measure(tmp_path, replace(BENCHMARK_S, seed=seed))
    assert [f.target.key for f in report.figures] == [t.key for t in TARGETS]
    outside = []
    for figure in report.figures:
        slack = ALLOWANCE.get(figure.target.key, 0.0)
        low, high = figure.target.low - slack, figure.target.high + slack
        if figure.value is None or not low <= figure.value <= high:
            outside.append(f"{figure.target.label}: {figure.shown} (allowed {low:g}…{high:g})")
    assert not outside, "\n" + format_report(report)


def test_an_evenly_spread_organisation_is_reported_outside_the_ranges(tmp_path, monkeypatch):
    """What the generator did before calibration: no heavy lost-time answers, quiet weekends."""
    for name in ("HEAVY_BASE", "HEAVY_PER_REASSIGNMENT", "HEAVY_IF_UNHAPPY"):
        monkeypatch.setattr(calibration, name, 0.0)
    monkeypatch.setattr(calibration, "LOST_TIME_LIGHT_MEDIAN", 120.0)
    monkeypatch.setattr(calibration, "WEEKEND_FACTOR", 0.3)
    report = _measure(tmp_path, replace(BENCHMARK_S, seed=1))
    outside = {f.target.key for f in report.outside}
    assert {
        "weekend_drop",
        "lost_time_top_share",
        "lost_time_per_reassignment",
    } <= outside
    # ... and the figures the change did not touch stay inside.
    assert report.figure("channel_portal").inside and report.figure("mttr_p3").inside
    assert report.figure("lost_time_top_share").value > 0.3
    assert "OUTSIDE" in format_report(report)


def test_the_top_share_is_the_fewest_answers_holding_eighty_percent():
    # One answer of 100 minutes and nine of 1: the first alone holds 100/109 = 92 %.
    assert _top_share(np.array([1.0] * 9 + [100.0])) == pytest.approx(0.1)
    # Evenly spread: 8 answers of 10 are needed.
    assert _top_share(np.full(10, 5.0)) == pytest.approx(0.8)
    assert _top_share(np.array([])) is None


def test_the_slope_is_the_least_squares_change_per_reassignment():
    x = pd.Series([0.0, 1, 2, 3, 0, 1, 2, 3])
    assert _slope(x, 10 + 106 * x) == pytest.approx(106)
    assert _slope(pd.Series([1.0, 1.0]), pd.Series([3.0, 4.0])) is None


def test_generate_report_prints_every_figure_with_its_range(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XMO_DATA_DIR", str(tmp_path / "data"))
    args = ["generate", "--employees", "300", "--days", "28", "--start", "2026-03-02"]
    assert main([*args, "--report"]) == 0
    out = capsys.readouterr().out
    assert "Realism against DOMAIN §5: 300 employees, 2026-03-02 to 2026-03-29" in out
    for target in TARGETS:
        assert target.label in out
    assert f"of {len(TARGETS)} figures inside their ranges." in out
