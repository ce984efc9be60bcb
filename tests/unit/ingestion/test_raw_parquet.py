"""Raw partitions as Parquet: one file per table and day, replaced on reload, never duplicated."""

from __future__ import annotations

from datetime import date

import duckdb

from ingestion.loader import load_partitions
from ingestion.raw_parquet import export_raw_parquet, partition_file
from ingestion.sources import SOURCES

DAY = date(2026, 3, 2)
SURVEY = SOURCES["survey"]
HEADER = "response_id,survey_type,ticket_number,responded_at,respondent_id,happiness\n"


def write_survey(landing, rows: list[str]) -> None:
    folder = landing / "survey" / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "responses.csv").write_text(HEADER + "".join(rows))


def parquet_rows(path) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(
            "SELECT response_id, happiness, _extract_date FROM read_parquet($p) ORDER BY 1",
            {"p": str(path)},
        ).fetchall()


def test_a_reloaded_day_replaces_its_file_and_quarantined_rows_stay_out(tmp_path):
    warehouse, landing, parquet = tmp_path / "wh.duckdb", tmp_path / "landing", tmp_path / "pq"
    write_survey(
        landing,
        [
            "R1,ticket,INC1,2026-03-01T10:00:00Z,E1,9\n",
            "R2,ticket,INC2,2026-03-01T11:00:00Z,E2,eleven\n",  # breaks the contract
        ],
    )
    list(load_partitions(warehouse, landing, SURVEY, [DAY], parquet_dir=parquet))
    file = partition_file(parquet, "survey_responses", DAY)
    assert parquet_rows(file) == [("R1", 9, DAY)]

    # The day is delivered again, corrected: the file holds the new rows only.
    write_survey(
        landing,
        [
            "R1,ticket,INC1,2026-03-01T10:00:00Z,E1,10\n",
            "R2,ticket,INC2,2026-03-01T11:00:00Z,E2,7\n",
        ],
    )
    list(load_partitions(warehouse, landing, SURVEY, [DAY], parquet_dir=parquet))
    assert parquet_rows(file) == [("R1", 10, DAY), ("R2", 7, DAY)]
    assert sorted(p.name for p in file.parent.iterdir()) == [file.name]  # no staged copy left

    # Reloaded with every row broken: the day has no rows, so no file keeps the old ones.
    write_survey(landing, ["R1,ticket,INC1,2026-03-01T10:00:00Z,E1,high\n"])
    list(load_partitions(warehouse, landing, SURVEY, [DAY], parquet_dir=parquet))
    assert not file.exists()


def test_export_writes_every_day_of_the_warehouse(tmp_path):
    warehouse, landing, parquet = tmp_path / "wh.duckdb", tmp_path / "landing", tmp_path / "pq"
    write_survey(landing, ["R1,ticket,INC1,2026-03-01T10:00:00Z,E1,9\n"])
    list(load_partitions(warehouse, landing, SURVEY, [DAY]))  # loaded without Parquet
    assert not parquet.exists()

    written = export_raw_parquet(warehouse, parquet, [SURVEY])

    assert written == {"survey_responses": 1}
    assert parquet_rows(partition_file(parquet, "survey_responses", DAY)) == [("R1", 9, DAY)]


def test_the_first_load_with_parquet_writes_the_days_loaded_before(tmp_path):
    # A data dir that ran on DuckDB is switched to Spark: its history must reach the Parquet side.
    warehouse, landing, parquet = tmp_path / "wh.duckdb", tmp_path / "landing", tmp_path / "pq"
    write_survey(landing, ["R1,ticket,INC1,2026-03-01T10:00:00Z,E1,9\n"])
    list(load_partitions(warehouse, landing, SURVEY, [DAY]))  # on DuckDB: no Parquet
    next_day = date(2026, 3, 3)
    folder = landing / "survey" / next_day.isoformat()
    folder.mkdir(parents=True)
    (folder / "responses.csv").write_text(HEADER + "R2,ticket,INC2,2026-03-02T10:00:00Z,E2,8\n")

    list(load_partitions(warehouse, landing, SURVEY, [next_day], parquet_dir=parquet))

    assert parquet_rows(partition_file(parquet, "survey_responses", DAY)) == [("R1", 9, DAY)]
    assert parquet_rows(partition_file(parquet, "survey_responses", next_day)) == [
        ("R2", 8, next_day)
    ]
