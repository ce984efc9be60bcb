"""`xmo pull nexthink` fills landing from the NQL API, and the pipeline publishes that day.

A small synthetic organisation, ending yesterday, supplies everything; its device file of
yesterday (the day the saved query describes) is taken away and served instead by the
Nexthink stand-in, with the contract's columns as the query's headers. The pull lands it, the
daily run loads it, and staging and the scored device-days of that day are exactly the pulled
rows, read from nexthink.csv.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from ingestion.sources import DEVICE
from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.assets.nexthink import yesterday
from orchestration.cli import execute_pipeline, main, summarize
from orchestration.settings import PROJECT_SEEDS_DIR, Settings
from tests.fakes.nexthink import FakeNexthink
from tests.integration.warehouse import query

pytestmark = pytest.mark.integration

CONFIG = GeneratorConfig(employees=200, days=8, seed=17)  # no start: the timeline ends yesterday
# The columns of a device-day as the generator writes them (a query need not return the
# contract's optional user_principal_name or 30-day totals).
COLUMNS = [
    field.name
    for field in DEVICE.fields
    if field.name
    not in (
        "user_principal_name",
        *(f"{c}_30d" for c in ("app_crashes", "app_freezes", "system_crashes")),
    )
]


def test_a_pulled_device_day_is_loaded_staged_and_published(tmp_path, monkeypatch, capsys):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("XMO_DATA_DIR", str(data_dir))
    for name in ("XMO_NEXTHINK_QUERY_ID", "XMO_NEXTHINK_API_VERSION", "XMO_NEXTHINK_DAY_PARAMETER"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env({"XMO_DATA_DIR": str(data_dir)})
    summary = generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, CONFIG)
    day = yesterday()
    assert summary.last_day == day

    # From now on this day's devices exist only in Nexthink.
    day_dir = settings.landing_dir / "device" / day.isoformat()
    [generated] = list(day_dir.iterdir())
    columns = ", ".join(f"CAST({c} AS VARCHAR)" for c in COLUMNS)
    rows = duckdb.sql(f"SELECT {columns} FROM read_parquet('{generated}') ORDER BY 1").fetchall()
    generated.unlink()
    assert 0 < len(rows) < 1000  # within the execute endpoint's limit

    with FakeNexthink(COLUMNS, [list(row) for row in rows]) as fake:
        monkeypatch.setenv("XMO_NEXTHINK_URL", fake.url)
        monkeypatch.setenv("XMO_NEXTHINK_TOKEN_URL", fake.token_url)
        monkeypatch.setenv("XMO_NEXTHINK_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("XMO_NEXTHINK_CLIENT_SECRET", fake.client_secret)
        assert main(["pull", "nexthink", "--day", day.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "Landing files written: 1" in out and fake.client_secret not in out
    assert len(fake.requests) == 1
    assert sorted(p.name for p in day_dir.iterdir()) == ["nexthink.csv"]

    dates = [day - timedelta(days=n) for n in range(CONFIG.days - 1, -1, -1)]
    result = execute_pipeline(settings, dates)
    run = summarize(result)
    assert result.success, run.step_failures
    assert run.published and run.checks_failed == []
    assert run.quarantined == 0

    pulled = sorted(row[0] for row in rows)
    for table in ("staging.stg_device__snapshots", "intermediate.int_device_days_scored"):
        staged = query(
            settings.warehouse_path,
            f"SELECT device_id FROM {table} WHERE snapshot_date = '{day}' ORDER BY 1",
        )
        assert [d for (d,) in staged] == pulled, table
    sources = query(
        settings.warehouse_path,
        "SELECT DISTINCT regexp_extract(_source_file, '[^/]+$') FROM raw.device_snapshots "
        f"WHERE _extract_date = '{day}'",
    )
    assert sources == [("nexthink.csv",)]
