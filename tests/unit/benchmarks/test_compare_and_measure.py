"""The benchmark's own instruments: the mart comparison and the process-tree memory sampler."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb
import pytest

from benchmarks.compare import compare_mart
from benchmarks.measure import run_measured
from benchmarks.report import targets, write_markdown

ROWS = """
    SELECT * FROM (VALUES
        ('SVC01', DATE '2026-01-05', 12, 50.0, 10.0, 2.0, 30, 0.4, 5.5, 0.9, 0.1, 1, false),
        ('SVC01', DATE '2026-01-12', 3, NULL, NULL, NULL, 20, 0.15, 7.0, 1.0, 0.0, 0, true),
        ('SVC02', DATE '2026-01-05', 9, -20.0, 25.0, 3.75, 15, 0.6, 12.25, 0.8, 0.2, 2, false)
    ) AS t(service_id, week_start, responses, happiness_score, avg_lost_time_minutes,
           total_lost_hours, tickets_resolved, response_rate, mttr_hours, sla_attainment,
           reopen_rate, tickets_canceled, low_sample)
"""


def _write(path: Path, sql: str) -> Path:
    with duckdb.connect() as con:
        con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
    return path


@pytest.fixture
def published(tmp_path) -> Path:
    return _write(tmp_path / "published.parquet", ROWS)


def test_identical_marts_compare_equal(tmp_path, published):
    other = _write(tmp_path / "same.parquet", f"SELECT * FROM ({ROWS}) ORDER BY service_id DESC")
    result = compare_mart("service_experience_weekly", published, other)
    assert result.equal and result.rows == 3


def test_a_changed_value_a_null_and_a_missing_row_are_each_found(tmp_path, published):
    changed = _write(
        tmp_path / "changed.parquet",
        f"""SELECT * REPLACE (
                CASE WHEN service_id = 'SVC02' THEN mttr_hours + 0.01 ELSE mttr_hours END
                    AS mttr_hours,
                CASE WHEN week_start = DATE '2026-01-12' THEN 0.0 ELSE happiness_score END
                    AS happiness_score)
            FROM ({ROWS}) WHERE NOT (service_id = 'SVC01' AND week_start = DATE '2026-01-05')""",
    )
    result = compare_mart("service_experience_weekly", published, changed)
    assert not result.equal
    assert result.only_in_expected == 1 and result.only_in_actual == 0
    assert result.different_values["mttr_hours"] == 1
    assert result.different_values["happiness_score"] == 1  # NULL in one, 0.0 in the other
    assert result.different_values["responses"] == 0


def test_float_noise_below_the_tolerance_is_equal(tmp_path, published):
    noisy = _write(
        tmp_path / "noisy.parquet",
        f"SELECT * REPLACE (mttr_hours * (1 + 1e-12) AS mttr_hours) FROM ({ROWS})",
    )
    assert compare_mart("service_experience_weekly", published, noisy).equal


def test_peak_memory_counts_the_children_of_the_measured_process(tmp_path):
    # A parent that allocates nothing, and a grandchild holding 300 MB for a second.
    grandchild = "x = bytearray(300 * 2**20); import time; time.sleep(1.5)"
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"
    measured = run_measured([sys.executable, "-c", child], dict(os.environ), tmp_path / "log.txt")
    assert measured.returncode == 0
    assert measured.peak_rss_mb >= 300
    assert measured.wall_s >= 1.5


def test_a_failing_command_reports_its_exit_code(tmp_path):
    measured = run_measured(
        [sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
        dict(os.environ),
        tmp_path / "log.txt",
    )
    assert measured.returncode == 3
    assert "boom" in (tmp_path / "log.txt").read_text()


def test_targets_are_judged_against_the_issue_thresholds():
    result = {
        "full_refresh_s": 80.0,
        "floor_s": 40.0,
        "pandas_s": 900.0,
        "incremental_s": 4.0,
        "peak_rss_mb": 6 * 1024 + 1,
    }
    met = {name: ok for name, _, ok in targets(result, {"incremental_s": 12.5})}
    # 80 s is exactly 2x a 40 s floor; 4 s is 0.1x the floor but 0.05x the full refresh exactly;
    # S's 12.5 s misses 12 s; one MB over 6 GiB.
    assert met == {
        "full refresh ≤ 2× the DuckDB floor": True,
        "incremental day ≤ 0.25× the DuckDB floor": True,
        "incremental day ≤ 0.05× the full refresh": True,
        "incremental day at S ≤ 12 s": False,
        "peak RSS of the process tree ≤ 6 GiB": False,
    }
    slower = {name: ok for name, _, ok in targets(result | {"incremental_s": 10.1})}
    assert not slower["incremental day ≤ 0.25× the DuckDB floor"]  # 10.1 > 0.25 x 40
    assert "incremental day at S ≤ 12 s" not in slower  # no S in the run: not judged


def test_the_report_shows_the_spark_run_only_for_the_scales_that_had_one(tmp_path):
    def result(**extra):
        machine = {
            "cpu": "cpu",
            "cores": 2,
            "memory_gib": 24,
            "python": "3.11",
            "duckdb": "2",
            "dagster": "1",
            "dbt-core": "1",
            "dbt-duckdb": "1",
            "pandas": "3",
        }
        return {
            "employees": 2000,
            "days": 90,
            "rows": {"survey": 1, "itsm": 2, "device": 3},
            "full_refresh_s": 127.0,
            "incremental_s": 71.0,
            "floor_s": 2.0,
            "pandas_s": 3.0,
            "peak_rss_mb": 775,
            "measured_at": "2026-11-23T22:00:00+00:00",
            "machine": machine,
            **extra,
        }

    on_spark = {
        "spark_full_refresh_s": 301.5,
        "spark_incremental_s": 95.25,
        "spark_peak_rss_mb": 1900,
        "spark_thrift_full_refresh_s": 250.0,
        "spark_thrift_incremental_s": 60.0,
        "spark_thrift_peak_rss_mb": 700,
        "spark_thrift_startup_s": 31.4,
    }
    write_markdown({"S": result(**on_spark), "M": result()}, tmp_path)

    report = (tmp_path / "results.md").read_text()
    spark_section = report.split("## The same runs on Spark")[1].split("## Machine")[0]
    assert "| S | duckdb | 127.0 | 71.0 | 775 |" in spark_section
    assert "| S | spark | 301.5 | 95.2 | 1,900 |" in spark_section
    assert "| S | spark_thrift | 250.0 | 60.0 | 700 |" in spark_section
    assert "The cluster started in 31.4 s." in spark_section
    assert "| M |" not in spark_section
