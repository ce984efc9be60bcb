"""`make bench` at its smallest scale, as a smoke test: it must complete and compare equal.

No timing is asserted (DESIGN: speed is measured by the benchmark, never by a test). What is
asserted is that every step ran and that the floor's and the pandas script's marts equal the
published marts, without which the benchmark's timings would compare different work.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.run import main

pytestmark = pytest.mark.integration


def test_the_benchmark_runs_the_s_scale_end_to_end(tmp_path):
    # The Spark run (make bench's default for S) needs `make install-spark`; make test does not.
    args = [
        "--scales",
        "S",
        "--spark-scales",
        "--out",
        str(tmp_path),
        "--work",
        str(tmp_path / "work"),
    ]
    assert main(args) == 0

    result = json.loads((tmp_path / "results.json").read_text())["S"]
    for measured in ("full_refresh_s", "incremental_s", "floor_s", "pandas_s", "peak_rss_mb"):
        assert result[measured] > 0, measured
    assert result["rows"]["device"] == 2_000 * 90
    assert min(result["rows"].values()) > 0
    assert result["marts_compared"] == [
        line for line in result["marts_compared"] if line.endswith("all equal")
    ]
    assert len(result["marts_compared"]) == 4  # 2 marts x (floor, pandas)
    # Where each run's time went: its steps from its event log, dbt's nodes from dbt.
    for run in ("full_refresh_steps", "incremental_steps"):
        steps = dict(result[run]["steps"])
        assert {"raw_gates", "xmo_dbt_models", "mart_gates", "reporting__xmo_reporting"} <= set(
            steps
        ), run
        assert 0 < steps["xmo_dbt_models"] < result[run]["events_span_s"], run
        assert result[run]["dbt"]["nodes"] > 100, run
    table = (tmp_path / "results.md").read_text()
    assert "| S | 2,000 × 90 |" in table
    assert (tmp_path / "results.svg").read_text().startswith("<svg")
