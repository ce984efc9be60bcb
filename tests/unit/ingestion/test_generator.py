"""The synthetic organisation: deterministic, dated to end yesterday, loadable as it is."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingestion.loader import extract_dates, load_partitions
from ingestion.sources import SOURCES
from ingestion.synthetic.bad_rows import WINDOWS_1252_COMMENT
from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.settings import PROJECT_SEEDS_DIR

SMALL = GeneratorConfig(employees=150, days=21, start=date(2026, 2, 2), seed=11)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _generate(root: Path, config: GeneratorConfig = SMALL):
    return generate(
        root / "landing", root / "reference", PROJECT_SEEDS_DIR, config, root / "mappings"
    )


def test_the_same_seed_writes_the_same_files(tmp_path):
    _generate(tmp_path / "a")
    _generate(tmp_path / "b")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_another_seed_writes_other_data(tmp_path):
    _generate(tmp_path / "a")
    _generate(
        tmp_path / "b", GeneratorConfig(employees=150, days=21, start=date(2026, 2, 2), seed=12)
    )
    assert _digest(tmp_path / "a") != _digest(tmp_path / "b")


def test_by_default_the_timeline_ends_yesterday():
    first, last = GeneratorConfig(days=10).timeline()
    assert last == datetime.now(UTC).date() - timedelta(days=1)
    assert (last - first).days == 9


def test_every_source_lands_in_dated_extract_folders_that_load_cleanly(tmp_path):
    summary = _generate(tmp_path)
    landing = tmp_path / "landing"
    assert extract_dates(landing) == [SMALL.start + timedelta(days=i) for i in range(SMALL.days)]
    for source in SOURCES.values():
        loads = list(
            load_partitions(tmp_path / "wh.duckdb", landing, source, extract_dates(landing))
        )
        assert sum(load.rows_read for load in loads) == summary.rows[source.name]
        assert sum(load.quarantined for load in loads) == 0, source.name


def test_services_join_the_scope_on_different_dates_within_a_long_timeline(tmp_path):
    config = GeneratorConfig(employees=50, days=200, start=date(2026, 1, 5), seed=1)
    generate(tmp_path / "landing", tmp_path / "reference", PROJECT_SEEDS_DIR, config)
    catalog = pd.read_csv(
        tmp_path / "reference" / "service_catalog.csv", parse_dates=["xm_scope_start"]
    )
    starts = sorted(catalog["xm_scope_start"].dt.date.unique())
    assert len(starts) >= 3
    # The pilot starts after a full 12-week baseline window, on a Monday.
    assert starts[0] >= config.start + timedelta(weeks=12)
    assert all(d.weekday() == 0 for d in starts)
    assert starts[-1] <= config.start + timedelta(days=config.days)


def test_bad_rows_end_quarantined_with_every_kind_of_reason(tmp_path):
    # A high fraction, so the few survey rows of a small organisation cycle through every defect.
    config = GeneratorConfig(employees=800, days=21, start=date(2026, 2, 2), seed=11, bad_rows=0.3)
    summary = _generate(tmp_path, config)
    landing = tmp_path / "landing"
    reasons: set[str] = set()
    quarantined = 0
    for name in ("survey", "itsm", "directory", "device"):
        for load in load_partitions(
            tmp_path / "wh.duckdb",
            landing,
            SOURCES[name],
            extract_dates(landing),
            tmp_path / "mappings",
        ):
            quarantined += load.quarantined
            reasons.update(load.quarantine_reasons)
    assert quarantined == sum(summary.bad_rows.values())
    joined = " | ".join(reasons)
    for expected in (
        "happiness above 10",
        "respondent_id is missing",
        "responded_at is not a valid timestamp",
        "survey_type has unknown value",
        "more than a day in the future",
        "lost_time_minutes below 0",
        "happiness is not a valid integer",
        "duplicate response_id",
        "priority has unknown value",
        "opened_at is not a valid timestamp",
        "resolved_at before opened_at",
        "number is missing",
        "sys_class_name has unknown value",
        "reassignment_count below 0",
        "vip is not a valid boolean",
        "employee_id is missing",
        "battery_health_pct above 100",
        "device_type has unknown value",
        "snapshot_date is more than a day in the future",
        "device_id is missing",
        "app_crashes below 0",
        "cpu_saturation_pct is not a valid double",
        "duplicate device_id",
        "3 fields, expected 11",  # a truncated survey row
        "12 fields, expected 11",  # an unquoted comma in a survey row
        "3 fields, expected 6",  # a truncated directory row
        "17 fields, expected 16",  # an unquoted comma in a device row
    ):
        assert expected in joined
    # One survey file is Windows-1252, as Excel on Windows saves it, and loaded whole.
    cp1252_file, mapping = summary.other_encodings
    data = cp1252_file.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert WINDOWS_1252_COMMENT in data.decode("cp1252")
    assert mapping.read_text(encoding="utf-8").endswith("encoding: [utf-8, cp1252]\n")
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        loaded = con.execute(
            "SELECT count(*) FROM raw.survey_responses WHERE comment = $c",
            {"c": WINDOWS_1252_COMMENT},
        ).fetchall()[0][0]
    finally:
        con.close()
    assert loaded > 0


@pytest.mark.parametrize("fraction", [0.0])
def test_without_bad_rows_nothing_is_corrupted(tmp_path, fraction):
    summary = _generate(
        tmp_path, GeneratorConfig(employees=80, days=7, start=date(2026, 2, 2), bad_rows=fraction)
    )
    assert dict(summary.bad_rows) == {}
