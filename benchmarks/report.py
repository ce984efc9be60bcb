"""results.md (the table, the targets at L, the machine) and results.svg (the chart)."""

from __future__ import annotations

from pathlib import Path

from reporting.charts import bars

TARGET_SCALE = "L"
INCREMENTAL_TARGET_S = 60.0
PEAK_TARGET_MB = 6 * 1024
FULL_VS_FLOOR_MAX = 2.0
PANDAS_VS_FULL_MIN = 5.0


def targets(result: dict) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for one scale's result (the issue sets them at L)."""
    full, floor, pandas = result["full_refresh_s"], result["floor_s"], result["pandas_s"]
    return [
        (
            f"full refresh ≤ {FULL_VS_FLOOR_MAX:g}× the DuckDB floor",
            f"{full / floor:.1f}× ({full:,.0f} s vs {floor:,.0f} s)",
            full <= FULL_VS_FLOOR_MAX * floor,
        ),
        (
            f"incremental daily run ≤ {INCREMENTAL_TARGET_S:g} s",
            f"{result['incremental_s']:,.1f} s",
            result["incremental_s"] <= INCREMENTAL_TARGET_S,
        ),
        (
            "peak memory ≤ 6 GiB",
            f"{result['peak_rss_mb']:,} MB",
            result["peak_rss_mb"] <= PEAK_TARGET_MB,
        ),
        (
            f"pandas ≥ {PANDAS_VS_FULL_MIN:g}× slower than the full refresh",
            f"{pandas / full:.1f}× ({pandas:,.0f} s vs {full:,.0f} s)",
            pandas >= PANDAS_VS_FULL_MIN * full,
        ),
    ]


def _chart_scale(results: dict) -> str:
    """The scale the chart shows: the target scale when measured, else the largest one."""
    return TARGET_SCALE if TARGET_SCALE in results else list(results)[-1]


def _chart(results: dict) -> str:
    r = results[_chart_scale(results)]
    svg = bars(
        [
            ("pandas script", r["pandas_s"]),
            ("full refresh (xmo run --all)", r["full_refresh_s"]),
            ("DuckDB floor (floor.sql)", r["floor_s"]),
            ("incremental day", r["incremental_s"]),
        ],
        unit=" s",
    )
    style = "<style>text{font:12px sans-serif;fill:#222}.bar{fill:#4a7fb5}</style>"
    return svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1).replace(
        'role="img">', f'role="img">{style}', 1
    )


def write_markdown(results: dict, out: Path) -> None:
    lines = [
        "# Benchmark results",
        "",
        "Measured by `make bench` (`python -m benchmarks.run`); see `benchmarks/run.py` for what",
        "each column measures. Wall time in seconds; peak memory is the summed RSS of the whole",
        "process tree (sampled every 0.1 s) of the full refresh and the incremental run.",
        "The floor's and the pandas script's marts were checked equal to the published marts.",
        "Where the time goes, what was changed and what is next: [README.md](README.md).",
        "",
        "| scale | employees × days | survey / itsm / device rows | full refresh | incremental "
        "| DuckDB floor | pandas | full ÷ floor | pandas ÷ full | peak RSS (MB) |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, r in results.items():
        rows = r["rows"]
        lines.append(
            f"| {name} | {r['employees']:,} × {r['days']} "
            f"| {rows['survey']:,} / {rows['itsm']:,} / {rows['device']:,} "
            f"| {r['full_refresh_s']:,.1f} | {r['incremental_s']:,.1f} | {r['floor_s']:,.1f} "
            f"| {r['pandas_s']:,.1f} | {r['full_refresh_s'] / r['floor_s']:.1f}× "
            f"| {r['pandas_s'] / r['full_refresh_s']:.1f}× | {r['peak_rss_mb']:,} |"
        )
    lines += ["", f"Wall time at {_chart_scale(results)}:", "", "![wall time](results.svg)", ""]
    on_spark = {name: r for name, r in results.items() if "spark_full_refresh_s" in r}
    if on_spark:
        lines += [
            "## The same full refresh on Spark (local mode), for information",
            "",
            "`XMO_DBT_TARGET=spark`: the loads also write raw Parquet, dbt builds on Spark inside",
            "its process (pyspark 3.5, `local[2]`), gates and publication read Spark's tables. Its",
            "published core marts were checked equal to DuckDB's.",
            "",
            "| scale | full refresh on DuckDB | full refresh on Spark | peak RSS on Spark (MB) |",
            "|---|--:|--:|--:|",
        ]
        for name, r in on_spark.items():
            lines.append(
                f"| {name} | {r['full_refresh_s']:,.1f} | {r['spark_full_refresh_s']:,.1f} "
                f"| {r['spark_peak_rss_mb']:,} |"
            )
        lines.append("")
    if TARGET_SCALE in results:
        lines += [
            f"## Targets at {TARGET_SCALE}",
            "",
            "| target | measured | met |",
            "|---|---|---|",
        ]
        for target, measured, met in targets(results[TARGET_SCALE]):
            lines.append(f"| {target} | {measured} | {'yes' if met else '**no**'} |")
        lines.append("")
    lines += ["## Machine", ""]
    for name, r in results.items():
        m = r["machine"]
        lines.append(
            f"- {name} ({r['measured_at']}): {m['cpu']}, {m['cores']} cores, "
            f"{m['memory_gib']} GiB; Python {m['python']}, DuckDB {m['duckdb']}, "
            f"Dagster {m['dagster']}, dbt-core {m['dbt-core']}, dbt-duckdb {m['dbt-duckdb']}, "
            f"pandas {m['pandas']}"
        )
    lines.append("")
    (out / "results.md").write_text("\n".join(lines))
    (out / "results.svg").write_text(_chart(results))
