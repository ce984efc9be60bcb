"""The extract log: which extracts each source delivered, what came of them, and what emptying a
source the organisation does not declare leaves behind."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

from ingestion.loader import clear_source, ensure_raw_tables, load_partitions
from ingestion.raw_parquet import EMPTY_TABLE_FILE
from ingestion.sources import SOURCES
from tests.unit.ingestion.loaded import extract_log
from tests.unit.ingestion.test_loader import GOOD_SURVEY, SURVEY_HEADER, write

DAY = date(2026, 3, 10)
BAD_SURVEY = "R2,ticket,INC2,,2026-03-10T09:00:00Z,E2,11,5,,,en"


def _load(warehouse: Path, landing: Path, source: str, days: list[date], **kw) -> list:
    return list(load_partitions(warehouse, landing, SOURCES[source], days, **kw))


def test_every_load_records_whether_its_extract_was_delivered_and_what_it_held(tmp_path):
    warehouse, landing = tmp_path / "w.duckdb", tmp_path / "landing"
    write(landing, "survey", "responses.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY}\n{BAD_SURVEY}\n")
    # A quiet day: its export arrived with a header and no answers. Delivered all the same.
    write(landing, "survey", "responses.csv", f"{SURVEY_HEADER}\n", day=DAY + timedelta(days=1))
    days = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]  # nothing landed on the 12th

    _load(warehouse, landing, "survey", days)
    _load(warehouse, landing, "survey", days)  # a rerun replaces the log's rows, never adds

    assert extract_log(warehouse) == [
        ("survey", DAY, 1, 2, 1, 1),
        ("survey", DAY + timedelta(days=1), 1, 0, 0, 0),
        ("survey", DAY + timedelta(days=2), 0, 0, 0, 0),
    ]


def test_a_warehouse_loaded_before_the_log_existed_gets_it_from_its_raw_tables(tmp_path):
    warehouse, landing = tmp_path / "w.duckdb", tmp_path / "landing"
    write(landing, "survey", "responses.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY}\n{BAD_SURVEY}\n")
    write(landing, "survey", "more.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY.replace('R1', 'R3')}\n")
    _load(warehouse, landing, "survey", [DAY])
    logged = extract_log(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("DROP TABLE raw.extract_loads")

    ensure_raw_tables(warehouse)

    # Rebuilt from the rows and quarantine it left: two files, three rows, one quarantined.
    assert extract_log(warehouse) == logged == [("survey", DAY, 2, 3, 2, 1)]


def test_an_undeclared_source_is_emptied_and_the_others_are_left_alone(tmp_path):
    warehouse, landing = tmp_path / "w.duckdb", tmp_path / "landing"
    parquet = tmp_path / "raw_parquet"
    write(landing, "survey", "responses.csv", f"{SURVEY_HEADER}\n{GOOD_SURVEY}\n{BAD_SURVEY}\n")
    write(landing, "itsm", "incident.json", '{"result": []}')
    _load(warehouse, landing, "survey", [DAY], parquet_dir=parquet)
    _load(warehouse, landing, "itsm", [DAY], parquet_dir=parquet)

    cleared = clear_source(warehouse, SOURCES["survey"], parquet)

    assert (cleared.rows, cleared.quarantined, cleared.extracts) == (1, 1, 1)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        counts = con.execute(
            "SELECT (SELECT count(*) FROM raw.survey_responses), "
            "(SELECT count(*) FROM raw.quarantine_survey)"
        ).fetchall()
    assert counts == [(0, 0)]
    assert extract_log(warehouse) == [("itsm", DAY, 1, 0, 0, 0)]
    # Spark reads the raw table from its files: one file of its columns and no rows remains.
    [only] = list((parquet / "survey_responses").glob("*.parquet"))
    assert only.name == EMPTY_TABLE_FILE
    with duckdb.connect() as con:
        columns = [c[0] for c in con.execute(f"DESCRIBE SELECT * FROM '{only}'").fetchall()]
        assert con.execute(f"SELECT count(*) FROM '{only}'").fetchall() == [(0,)]
    assert "response_id" in columns and "_extract_date" in columns
    # Its landing files stay: declaring the source again and running the day loads them.
    assert (landing / "survey" / DAY.isoformat() / "responses.csv").exists()
    assert clear_source(warehouse, SOURCES["survey"]).rows == 0  # and again, nothing to do
