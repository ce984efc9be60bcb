"""Devices behind the tickets, over the demo's organisation: the link shows, no one is exposed.

The demo organisation (tests/integration/conftest.py) built by a real `dbt build`. Its slow-disk
model and its crash-prone devices make their users open more device tickets and lose more time;
the journey marts must show that from the data, and publish nothing that singles anyone out.
"""

from __future__ import annotations

import json
import math
import shutil

import duckdb
import pandas as pd
import pytest

from ingestion.synthetic import organisation as org
from orchestration.settings import Settings, stage_reference_seeds
from quality.specs import JOURNEY_FIGURES
from tests.integration.conftest import DEMO
from tests.integration.warehouse import dbt_build

pytestmark = pytest.mark.integration

MIN_EMPLOYEES = 5


def frame(settings: Settings, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def models(demo_warehouse: Settings) -> pd.DataFrame:
    return frame(demo_warehouse, "SELECT * FROM marts.device_ticket_experience_monthly")


@pytest.fixture(scope="module")
def bands(demo_warehouse: Settings) -> pd.DataFrame:
    return frame(demo_warehouse, "SELECT * FROM marts.dex_band_experience_monthly")


def test_the_slow_disk_models_users_open_more_device_tickets_and_lose_more_time(models):
    whole = models[(models.department == "all") & ~models.low_sample]
    by_model = whole.groupby("model").agg(
        employees=("employees", "sum"),
        hardware_tickets=("hardware_tickets", "sum"),
        lost_hours_per_100_employees=("lost_hours_per_100_employees", "mean"),
        dex_score=("dex_score", "mean"),
    )
    by_model["hardware_per_100"] = 100 * by_model.hardware_tickets / by_model.employees
    slow = by_model.loc[org.SLOW_DISK_MODEL]
    others = by_model.drop(index=[org.SLOW_DISK_MODEL, org.RARE_MODEL], errors="ignore")
    assert slow.dex_score < others.dex_score.min()
    assert slow.hardware_per_100 > 1.3 * others.hardware_per_100.max(), by_model
    assert slow.lost_hours_per_100_employees > others.lost_hours_per_100_employees.max()


def test_poor_and_fair_device_months_cost_more_than_good_ones(bands, record_property):
    whole = bands[bands.department == "all"]
    totals = whole.groupby("dex_band")[["employees", "tickets_opened"]].sum()
    assert set(totals.index) == {"poor", "fair", "good"}
    compared = whole[whole.tickets_ratio_vs_good.notna()]
    assert len(compared) > 0
    latest = compared[compared.month_start == compared.month_start.max()]
    record_property(
        "band_comparison",
        "; ".join(
            f"{r.dex_band}: {r.tickets_ratio_vs_good:.2f}× tickets "
            f"({r.tickets_ratio_ci_low:.2f}–{r.tickets_ratio_ci_high:.2f}), "
            f"{r.lost_time_ratio_vs_good:.2f}× lost time in {r.month_start:%Y-%m}"
            for r in latest.itertuples()
        ),
    )
    # Pooled over the months: per employee, poor and fair device months bring more hardware
    # tickets and more reported lost time than good ones.
    pooled = whole.groupby("dex_band")[
        ["employees", "hardware_tickets", "lost_hours_per_100_employees"]
    ].sum(min_count=1)
    hardware = pooled.hardware_tickets / pooled.employees
    assert hardware["poor"] > 1.5 * hardware["good"], pooled
    assert hardware["fair"] > 1.5 * hardware["good"], pooled
    lost = (whole.lost_hours_per_100_employees * whole.employees).groupby(whole.dex_band).sum()
    lost_per_employee = lost / pooled.employees
    assert lost_per_employee["fair"] > lost_per_employee["good"], lost_per_employee
    for measure in ("tickets", "lost_time"):
        # A band month with too few answers shows no survey figures, so no lost-time ratio.
        shown = compared[compared[f"{measure}_ratio_vs_good"].notna()]
        ratio = shown[f"{measure}_ratio_vs_good"]
        assert len(shown) > 0
        assert (shown[f"{measure}_ratio_ci_low"] <= ratio).all()
        assert (ratio <= shown[f"{measure}_ratio_ci_high"]).all()


def test_a_band_ratio_and_its_interval_are_recomputed_from_the_employees(demo_warehouse, bands):
    journeys = frame(
        demo_warehouse,
        "SELECT month_start, dex_band, tickets_opened, lost_time_minutes "
        "FROM intermediate.int_employee_journeys_joined",
    )
    row = bands[(bands.department == "all") & bands.tickets_ratio_vs_good.notna()].iloc[-1]
    month = journeys[journeys.month_start == row.month_start]
    band, good = (month[month.dex_band == b].tickets_opened for b in (row.dex_band, "good"))
    ratio = band.mean() / good.mean()
    log_se = math.sqrt(
        band.var(ddof=1) / len(band) / band.mean() ** 2
        + good.var(ddof=1) / len(good) / good.mean() ** 2
    )
    assert row.tickets_ratio_vs_good == pytest.approx(ratio, rel=1e-9)
    assert row.tickets_ratio_ci_low == pytest.approx(ratio * math.exp(-1.96 * log_se), rel=1e-9)
    assert row.tickets_ratio_ci_high == pytest.approx(ratio * math.exp(1.96 * log_se), rel=1e-9)


def test_no_published_cell_singles_out_the_users_of_a_rare_model(models, record_property):
    rare = models[models.model == org.RARE_MODEL]
    departments = rare[rare.department != "all"]
    # The rare model's users are spread so thin that some department has fewer than five.
    assert (departments.employees < MIN_EMPLOYEES).any(), rare
    attempts = 0
    for _, month in rare.groupby("month_start"):
        cells = month[month.department != "all"]
        hidden = cells[cells.low_sample]
        for figure in JOURNEY_FIGURES:
            assert hidden[figure].isna().all(), (figure, hidden)
        # The attack: the organisation row minus every visible department cell. What it
        # recovers is the hidden cells together, and they must describe at least five people.
        whole = month[month.department == "all"].iloc[0]
        if not whole.low_sample and len(hidden):
            attempts += 1
            recovered = whole.tickets_opened - cells[~cells.low_sample].tickets_opened.sum()
            assert hidden.employees.sum() >= MIN_EMPLOYEES, (recovered, hidden)
    record_property("differencing_attempts", attempts)
    assert attempts > 0


def test_no_employee_key_or_id_reaches_a_journey_mart(models, bands):
    for mart in (models, bands):
        assert not {c for c in mart.columns if "employee_key" in c or "employee_id" in c}
        assert (mart.employees[~mart.low_sample] >= MIN_EMPLOYEES).all()


def test_a_warehouse_built_before_the_months_were_incremental_upgrades_on_its_next_run(
    demo_warehouse: Settings, tmp_path
):
    # Issue 19 built int_employee_device_month as a table with a department and no extract
    # dates; the next run of the incremental model must rebuild it in the new shape, not fail
    # (`make demo` over last session's data did) or keep rows without extract dates.
    data = tmp_path / "data"
    shutil.copytree(
        demo_warehouse.data_dir, data, ignore=shutil.ignore_patterns("landing", "dbt_*")
    )
    settings = Settings.from_env({"XMO_DATA_DIR": str(data)})
    stage_reference_seeds(settings)
    current = "SELECT * FROM intermediate.int_employee_device_month ORDER BY ALL"
    expected = frame(settings, current)
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        con.execute(
            "CREATE OR REPLACE TABLE intermediate.int_employee_device_month AS "
            "SELECT * EXCLUDE (first_extract_date, extract_date), 'Finance' AS department "
            "FROM intermediate.int_employee_device_month"
        )
    finally:
        con.close()
    last = DEMO.timeline()[1]
    dbt_build(
        settings,
        tmp_path / "target",
        "--select",
        "int_employee_device_month",
        "--vars",
        json.dumps({"extract_date_from": str(last), "extract_date_to": str(last)}),
    )

    upgraded = frame(settings, current)
    assert list(upgraded.columns) == list(expected.columns)  # no department left behind
    pd.testing.assert_frame_equal(upgraded, expected)
