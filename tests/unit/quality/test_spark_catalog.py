"""The DuckDB catalog of the Spark build: one view per Parquet table, timestamps as DuckDB's."""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from quality.spark_catalog import write_spark_catalog


def write_parquet(folder, sql: str, name: str = "part-00000.parquet") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'Europe/Paris'")  # the writer's zone must not matter
        con.execute(f"COPY ({sql}) TO '{folder / name}' (FORMAT parquet)")


def test_every_table_of_spark_and_of_the_raw_parquet_is_a_view(tmp_path):
    spark, raw, catalog = tmp_path / "spark", tmp_path / "raw", tmp_path / "catalog.duckdb"
    write_parquet(
        spark / "marts.db" / "dim_service",
        "SELECT 'SVC1' AS service_id, TIMESTAMPTZ '2026-03-01 10:00:00+00' AS loaded_at",
    )
    write_parquet(
        spark / "marts.db" / "dim_service",
        "SELECT 'SVC2' AS service_id, NULL::TIMESTAMPTZ AS loaded_at",
        "p2.parquet",
    )
    (spark / "marts.db" / "not_built_yet").mkdir()  # a table folder without data is no table
    write_parquet(raw / "survey_responses", "SELECT 'R1' AS response_id", "2026-03-01.parquet")

    assert write_spark_catalog(catalog, spark, raw) == 2

    with duckdb.connect(str(catalog), read_only=True) as con:
        rows = con.execute("SELECT * FROM marts.dim_service ORDER BY 1").fetchall()
        types = con.execute("DESCRIBE marts.dim_service").fetchall()
        raw_rows = con.execute("SELECT * FROM raw.survey_responses").fetchall()
    assert rows == [("SVC1", datetime(2026, 3, 1, 10, 0)), ("SVC2", None)]
    assert [(name, kind) for name, kind, *_ in types] == [
        ("service_id", "VARCHAR"),
        ("loaded_at", "TIMESTAMP"),
    ]
    assert raw_rows == [("R1",)]


def test_a_view_reads_the_files_a_rebuild_wrote(tmp_path):
    spark, catalog = tmp_path / "spark", tmp_path / "catalog.duckdb"
    table = spark / "marts.db" / "xla_scorecard"
    write_parquet(table, "SELECT 1 AS n")
    write_spark_catalog(catalog, spark, tmp_path / "raw")
    # Spark replaces a rebuilt table's files under new names.
    (table / "part-00000.parquet").unlink()
    write_parquet(table, "SELECT 2 AS n", "part-00001-rebuilt.parquet")

    with duckdb.connect(str(catalog), read_only=True) as con:
        assert con.execute("SELECT n FROM marts.xla_scorecard").fetchall() == [(2,)]


def test_a_partitioned_table_is_one_view_with_its_partition_column(tmp_path):
    spark, catalog = tmp_path / "spark", tmp_path / "catalog.duckdb"
    table = spark / "staging.db" / "stg_itsm__tickets"
    write_parquet(table / "extract_date=2026-06-01", "SELECT 'INC1' AS ticket_number")
    write_parquet(table / "extract_date=2026-06-02", "SELECT 'INC2' AS ticket_number")
    # An incremental run's scratch table, left by a run that failed, is no model.
    write_parquet(spark / "staging.db" / "stg_itsm__tickets__dbt_rows", "SELECT 1 AS n")

    assert write_spark_catalog(catalog, spark, tmp_path / "raw") == 1

    with duckdb.connect(str(catalog), read_only=True) as con:
        rows = con.execute("SELECT * FROM staging.stg_itsm__tickets ORDER BY 1").fetchall()
        types = con.execute("DESCRIBE staging.stg_itsm__tickets").fetchall()
    assert rows == [("INC1", date(2026, 6, 1)), ("INC2", date(2026, 6, 2))]
    assert [(name, kind) for name, kind, *_ in types] == [
        ("ticket_number", "VARCHAR"),
        ("extract_date", "DATE"),
    ]
