"""Runs of clean CSV days load a chunk per DuckDB scan: the same rows, lines, counts and
quarantine as day by day; a day DuckDB cannot read line by line (a ragged row, a line break in
a quoted field) loads on its own, as before."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

from ingestion import loader
from ingestion.loader import load_partition, load_partitions
from ingestion.sources import SOURCES
from tests.unit.ingestion.loaded import load_summary, loaded_tables

FIRST = date(2026, 3, 9)
DAYS = [FIRST + timedelta(days=i) for i in range(6)]
SURVEY = SOURCES["survey"]
HEADER = (
    "response_id,survey_type,ticket_number,topic,responded_at,respondent_id,happiness,"
    "lost_time_minutes,factors,comment,language"
)


def _answer(n: int, day: date, happiness: str = "9", comment: str = "") -> str:
    return f"R{n},ticket,INC{n:07d},,{day}T08:00:00Z,E{n},{happiness},15,speed,{comment},en"


def _survey_day(landing: Path, day: date, lines: list[str]) -> None:
    folder = landing / "survey" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "responses.csv").write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")


def _landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    d = DAYS
    _survey_day(landing, d[0], [_answer(1, d[0]), _answer(2, d[0], comment='"a, b"')])
    _survey_day(landing, d[1], [_answer(3, d[1], happiness="11"), _answer(4, d[1])])
    _survey_day(landing, d[2], [_answer(5, d[2]), _answer(5, d[2])])  # a duplicate key
    _survey_day(landing, d[3], [_answer(6, d[3]), "R7,ticket,INC7"])  # ragged: alone
    _survey_day(landing, d[4], [_answer(8, d[4], comment='"two\nlines"'), _answer(9, d[4])])
    _survey_day(landing, d[5], [_answer(10, d[5])])
    return landing


def test_clean_csv_days_load_in_chunks_exactly_as_day_by_day(tmp_path, monkeypatch):
    landing = _landing(tmp_path)
    chunks = []
    original = loader._load_chunk
    monkeypatch.setattr(
        loader,
        "_load_chunk",
        lambda con, s, files, *a: chunks.append(list(files)) or original(con, s, files, *a),
    )
    chunked = list(load_partitions(tmp_path / "chunked.duckdb", landing, SURVEY, DAYS))
    # All six days are tried as one chunk; DuckDB rejects the ragged row (day 3) and the line
    # break in a quoted field (day 4), so the chunk is halved until they load on their own.
    assert chunks == [DAYS, DAYS[0:3], DAYS[3:6], DAYS[4:6]]
    monkeypatch.setattr(loader, "BULK_CHUNK_ROWS", 0)
    by_day = [load_partition(tmp_path / "by_day.duckdb", landing, SURVEY, d) for d in DAYS]

    assert load_summary(chunked) == load_summary(by_day)
    assert loaded_tables(tmp_path / "chunked.duckdb", "survey") == loaded_tables(
        tmp_path / "by_day.duckdb", "survey"
    )
    raw, quarantine = loaded_tables(tmp_path / "chunked.duckdb", "survey")
    assert len(raw) == 11 - 3
    by_reason = {row[4].split(":")[0]: row for row in quarantine}
    assert set(by_reason) == {
        "happiness above 10",
        "duplicate response_id in this extract",
        "3 fields, expected 11 (as in the header)",
    }
    # The quarantined row as read, from its own file and line.
    high = by_reason["happiness above 10"]
    assert (high[0], high[2]) == (DAYS[1], 2) and high[1].endswith(f"{DAYS[1]}/responses.csv")
    assert '"happiness": "11"' in high[3] or '"happiness":"11"' in high[3]
    duplicate = by_reason["duplicate response_id in this extract"]
    assert (duplicate[0], duplicate[2]) == (DAYS[2], 3)
    # Lines are numbered per file: the second answer of day 0 is on line 3 of its file.
    assert ("R2", 3) in {(row[0], row[-1]) for row in _lines(tmp_path / "chunked.duckdb")}


def _lines(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT response_id, _source_line FROM raw.survey_responses").fetchall()
