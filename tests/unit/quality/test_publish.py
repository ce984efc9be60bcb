"""Publication writes aside and renames: readers never see a mix or an error."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from quality.publish import publish_marts


def make_warehouse(path: Path, version: int) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(
        f"CREATE OR REPLACE TABLE marts.a AS SELECT {version} AS version, range AS i FROM range(3)"
    )
    con.execute(f"CREATE OR REPLACE TABLE marts.b AS SELECT {version} AS version")
    con.close()


def test_publish_copies_the_marts_to_the_database_and_parquet(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    make_warehouse(warehouse, 1)
    result = publish_marts(
        warehouse, tmp_path / "rep" / "r.duckdb", tmp_path / "rep" / "pq", ["a", "b"]
    )

    assert result.rows == {"a": 3, "b": 1}
    con = duckdb.connect(str(result.database), read_only=True)
    assert con.execute("SELECT count(*) FROM marts.a").fetchone() == (3,)
    con.close()
    parquet = tmp_path / "rep" / "pq" / "a.parquet"
    assert duckdb.connect().execute(f"SELECT count(*) FROM '{parquet}'").fetchone() == (3,)
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["pq", "r.duckdb"]


def test_the_published_file_uses_the_v1_5_storage_format(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    make_warehouse(warehouse, 1)
    result = publish_marts(warehouse, tmp_path / "r.duckdb", tmp_path / "pq", ["a"])
    con = duckdb.connect()
    con.execute(f"ATTACH '{result.database}' AS r (READ_ONLY)")
    (version,) = con.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 'r'"
    ).fetchone()
    assert version == "v1.5.0+"


def test_a_failed_publish_leaves_the_previous_version_in_place(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    make_warehouse(warehouse, 1)
    reporting = tmp_path / "r.duckdb"
    publish_marts(warehouse, reporting, tmp_path / "pq", ["a"])

    with pytest.raises(duckdb.Error):
        publish_marts(warehouse, reporting, tmp_path / "pq", ["a", "missing_table"])

    con = duckdb.connect(str(reporting), read_only=True)
    assert con.execute("SELECT max(version) FROM marts.a").fetchone() == (1,)
    con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pq", "r.duckdb", "wh.duckdb"]


def test_a_reader_holding_the_database_open_keeps_working_across_a_publish(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    reporting = tmp_path / "r.duckdb"
    make_warehouse(warehouse, 1)
    publish_marts(warehouse, reporting, tmp_path / "pq", ["a", "b"])
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, duckdb
            con = duckdb.connect({str(reporting)!r}, read_only=True)
            print(con.execute("SELECT max(version) FROM marts.a").fetchone()[0], flush=True)
            sys.stdin.readline()  # wait while the publish happens
            a = con.execute("SELECT max(version), count(*) FROM marts.a").fetchone()
            b = con.execute("SELECT max(version) FROM marts.b").fetchone()
            print(a[0], a[1], b[0], flush=True)
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "1"

    make_warehouse(warehouse, 2)
    publish_marts(warehouse, reporting, tmp_path / "pq", ["a", "b"])
    out, err = reader.communicate("go\n", timeout=60)

    assert reader.returncode == 0, err
    assert out.strip() == "1 3 1"  # the open session still reads one consistent version
    # A new session (DuckDB shares one open instance per path within a process, so a new
    # process stands for a BI tool reconnecting) sees the new version.
    new_session = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import duckdb; print(duckdb.connect({str(reporting)!r}, "
            "read_only=True).execute('SELECT max(version) FROM marts.a').fetchone()[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert new_session.stdout.strip() == "2"


def test_the_health_of_the_publication_is_published_beside_the_marts(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    make_warehouse(warehouse, 1)
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.extract_loads AS SELECT 'itsm' AS source, DATE '2026-03-02' AS "
        "extract_date, 10 AS rows_read, 9 AS rows_loaded, 1 AS rows_quarantined"
    )
    con.close()
    gates = pd.DataFrame(
        {
            "asset": ["marts/a"],
            "check_name": ["a_has_rows"],
            "passed": [False],
            "severity": ["WARN"],
        }
    )
    result = publish_marts(
        warehouse, tmp_path / "r.duckdb", tmp_path / "pq", ["a"], {"gates": gates}
    )

    con = duckdb.connect(str(result.database), read_only=True)
    assert con.execute("SELECT * FROM health.gates").fetchall() == [
        ("marts/a", "a_has_rows", False, "WARN")
    ]
    assert con.execute("SELECT source, rows_quarantined FROM health.extract_loads").fetchall() == [
        ("itsm", 1)
    ]
    con.close()
    # ... and a warehouse without an extract log (nothing loaded yet) still publishes.
    make_warehouse(tmp_path / "empty.duckdb", 1)
    result = publish_marts(tmp_path / "empty.duckdb", tmp_path / "r.duckdb", tmp_path / "pq", ["a"])
    con = duckdb.connect(str(result.database), read_only=True)
    tables = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'health'"
    ).fetchall()
    assert tables == [("mart_fingerprints",)]  # no extract log
    con.close()


def _published(path: Path, table: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return sorted(con.execute(f"SELECT * FROM marts.{table}").fetchall())
    finally:
        con.close()


def _in_warehouse(path: Path, sql: str) -> None:
    con = duckdb.connect(str(path))
    con.execute(sql)
    con.close()


def test_a_publication_writes_only_what_changed_and_ends_equal_to_the_warehouse(tmp_path):
    warehouse, reporting, parquet = tmp_path / "wh.duckdb", tmp_path / "r.duckdb", tmp_path / "pq"
    _in_warehouse(
        warehouse,
        "CREATE SCHEMA marts; "
        "CREATE TABLE marts.weeks AS SELECT range AS week, range * 10 AS answers FROM range(100); "
        "CREATE TABLE marts.tickets AS SELECT 'INC' || range AS ticket FROM range(5000)",
    )
    first = publish_marts(warehouse, reporting, parquet, ["weeks", "tickets"])
    assert sorted(first.changed) == ["tickets", "weeks"]  # nothing published before
    assert not first.copied
    tickets_file = (parquet / "tickets.parquet").stat()

    # A daily run: one week recomputed, one added, one gone (a week a re-delivery emptied).
    _in_warehouse(
        warehouse,
        "UPDATE marts.weeks SET answers = -1 WHERE week = 5; "
        "INSERT INTO marts.weeks VALUES (100, 7); DELETE FROM marts.weeks WHERE week = 3",
    )
    second = publish_marts(warehouse, reporting, parquet, ["weeks", "tickets"])

    assert second.changed == ["weeks"]
    assert second.copied  # the unchanged tickets are most of the rows: kept from the last file
    assert second.rows == {"weeks": 100, "tickets": 5000}
    expected = [(w, -1 if w == 5 else 7 if w == 100 else w * 10) for w in range(101) if w != 3]
    assert _published(reporting, "weeks") == expected
    assert _published(reporting, "tickets") == sorted((f"INC{i}",) for i in range(5000))
    weeks_parquet = (
        duckdb.connect()
        .execute(f"SELECT week, answers FROM '{parquet / 'weeks.parquet'}' ORDER BY week")
        .fetchall()
    )
    assert weeks_parquet == expected
    # The unchanged mart's Parquet file is the one written before, untouched.
    assert (parquet / "tickets.parquet").stat().st_mtime_ns == tickets_file.st_mtime_ns
    assert (parquet / "tickets.parquet").stat().st_ino == tickets_file.st_ino
    # Still the storage format BI drivers bundling DuckDB 1.5 read, and no staged file left.
    con = duckdb.connect()
    con.execute(f"ATTACH '{reporting}' AS r (READ_ONLY)")
    assert con.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 'r'"
    ).fetchall() == [("v1.5.0+",)]
    con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pq", "r.duckdb", "wh.duckdb"]
    # Nothing changed: nothing written, the same rows; a mart no longer published is dropped.
    third = publish_marts(warehouse, reporting, parquet, ["weeks"])
    assert (third.changed, third.copied) == ([], True)
    assert _published(reporting, "weeks") == expected
    con = duckdb.connect(str(reporting), read_only=True)
    assert con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
    ).fetchall() == [("weeks",)]
    con.close()


def test_repeated_rows_new_columns_and_dropped_marts_are_published_exactly(tmp_path):
    warehouse, reporting, parquet = tmp_path / "wh.duckdb", tmp_path / "r.duckdb", tmp_path / "pq"
    _in_warehouse(
        warehouse,
        "CREATE SCHEMA marts; CREATE TABLE marts.a AS SELECT 1 AS x FROM range(3); "
        "CREATE TABLE marts.b AS SELECT 1 AS x; CREATE TABLE marts.c AS SELECT 1 AS x",
    )
    publish_marts(warehouse, reporting, parquet, ["a", "b", "c"])
    # A row repeated once more than before: a set difference would see no change.
    _in_warehouse(warehouse, "INSERT INTO marts.a VALUES (1)")
    # A column added: the published table cannot take the new rows as they are.
    _in_warehouse(warehouse, "CREATE OR REPLACE TABLE marts.b AS SELECT 1 AS x, 'new' AS y")

    result = publish_marts(warehouse, reporting, parquet, ["a", "b"])

    assert sorted(result.changed) == ["a", "b"]
    assert _published(reporting, "a") == [(1,)] * 4
    assert _published(reporting, "b") == [(1, "new")]
    con = duckdb.connect(str(reporting), read_only=True)
    marts = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
    ).fetchall()
    con.close()
    assert sorted(marts) == [("a",), ("b",)]  # c is no longer published


def test_a_publication_from_before_fingerprints_is_replaced_whole(tmp_path):
    warehouse, reporting, parquet = tmp_path / "wh.duckdb", tmp_path / "r.duckdb", tmp_path / "pq"
    make_warehouse(warehouse, 1)
    publish_marts(warehouse, reporting, parquet, ["a", "b"])
    con = duckdb.connect(str(reporting))
    con.execute("DROP TABLE health.mart_fingerprints")
    con.close()
    make_warehouse(warehouse, 2)

    result = publish_marts(warehouse, reporting, parquet, ["a", "b"])

    assert sorted(result.changed) == ["a", "b"]
    assert _published(reporting, "a") == [(2, 0), (2, 1), (2, 2)]


def test_a_mart_whose_columns_changed_but_not_its_values_is_written_again(tmp_path):
    warehouse, reporting, parquet = tmp_path / "wh.duckdb", tmp_path / "r.duckdb", tmp_path / "pq"
    _in_warehouse(
        warehouse,
        "CREATE SCHEMA marts; CREATE TABLE marts.weeks AS SELECT range::INTEGER AS answers "
        "FROM range(10); CREATE TABLE marts.tickets AS SELECT range AS n FROM range(1000)",
    )
    publish_marts(warehouse, reporting, parquet, ["weeks", "tickets"])
    # A row's hash is its values': a column renamed and widened hashes the same.
    _in_warehouse(
        warehouse,
        "CREATE OR REPLACE TABLE marts.weeks AS SELECT range::BIGINT AS answer_count "
        "FROM range(10)",
    )

    result = publish_marts(warehouse, reporting, parquet, ["weeks", "tickets"])

    assert (result.changed, result.copied) == (["weeks"], True)
    con = duckdb.connect()
    for relation in (f"'{parquet / 'weeks.parquet'}'", "r.marts.weeks"):
        if relation.startswith("r."):
            con.execute(f"ATTACH '{reporting}' AS r (READ_ONLY)")
        assert con.execute(f"DESCRIBE {relation}").fetchall()[0][:2] == ("answer_count", "BIGINT")
    con.close()


def test_a_publication_stopped_half_way_through_its_renames_is_finished_by_the_next(
    tmp_path, monkeypatch
):
    warehouse, reporting, parquet = tmp_path / "wh.duckdb", tmp_path / "r.duckdb", tmp_path / "pq"
    make_warehouse(warehouse, 1)
    publish_marts(warehouse, reporting, parquet, ["a", "b"])
    make_warehouse(warehouse, 2)
    real_replace = os.replace

    def replace(source, target):
        if Path(target).name == "b.parquet":
            raise OSError("the process was stopped here")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError):
        publish_marts(warehouse, reporting, parquet, ["a", "b"])
    monkeypatch.setattr(os, "replace", real_replace)
    # The database is renamed last: it still holds, and records, the last publication.
    assert _published(reporting, "a")[0][0] == 1

    result = publish_marts(warehouse, reporting, parquet, ["a", "b"])

    assert sorted(result.changed) == ["a", "b"]  # written again, database and Parquet alike
    assert _published(reporting, "a") == [(2, 0), (2, 1), (2, 2)]
    for mart in ("a", "b"):
        written = duckdb.connect().execute(f"SELECT max(version) FROM '{parquet / mart}.parquet'")
        assert written.fetchall() == [(2,)], mart
