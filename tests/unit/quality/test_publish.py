"""Publication writes aside and renames: readers never see a mix or an error."""

from __future__ import annotations

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
    assert tables == []
    con.close()
