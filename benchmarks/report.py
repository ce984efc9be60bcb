"""results.md (the table, the targets at L, the machine) and results.svg (the chart)."""

from __future__ import annotations

from pathlib import Path

from reporting.charts import bars

TARGET_SCALE = "L"
# Issue 20's targets: ratios within one run (absolute times vary 2-3x between machines and hours),
# except the daily run at S, which has almost no data and so measures the per-run cost.
FULL_VS_FLOOR_MAX = 2.0
INCREMENTAL_VS_FLOOR_MAX = 0.25
INCREMENTAL_VS_FULL_MAX = 0.05
SMALL_SCALE = "S"
SMALL_INCREMENTAL_MAX_S = 12.0
PEAK_TARGET_MB = 6 * 1024


def targets(result: dict, small: dict | None = None) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for the target scale's result; `small` is S's, from the same run
    (its daily run is the per-run cost)."""
    full, floor, daily = result["full_refresh_s"], result["floor_s"], result["incremental_s"]
    judged = [
        (
            f"full refresh ≤ {FULL_VS_FLOOR_MAX:g}× the DuckDB floor",
            f"{full / floor:.2f}× ({full:,.0f} s ÷ {floor:,.0f} s)",
            full <= FULL_VS_FLOOR_MAX * floor,
        ),
        (
            f"incremental day ≤ {INCREMENTAL_VS_FLOOR_MAX:g}× the DuckDB floor",
            f"{daily / floor:.2f}× ({daily:,.1f} s ÷ {floor:,.0f} s)",
            daily <= INCREMENTAL_VS_FLOOR_MAX * floor,
        ),
        (
            f"incremental day ≤ {INCREMENTAL_VS_FULL_MAX:g}× the full refresh",
            f"{daily / full:.3f}× ({daily:,.1f} s ÷ {full:,.0f} s)",
            daily <= INCREMENTAL_VS_FULL_MAX * full,
        ),
    ]
    if small is not None:
        judged.append(
            (
                f"incremental day at {SMALL_SCALE} ≤ {SMALL_INCREMENTAL_MAX_S:g} s",
                f"{small['incremental_s']:,.1f} s",
                small["incremental_s"] <= SMALL_INCREMENTAL_MAX_S,
            )
        )
    judged.append(
        (
            "peak RSS of the process tree ≤ 6 GiB",
            f"{result['peak_rss_mb']:,} MB",
            result["peak_rss_mb"] <= PEAK_TARGET_MB,
        )
    )
    return judged


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
        "The floor's and the pandas script's marts were checked equal to the published marts;",
        "the pandas script is there for information (no target).",
        "Where the time goes, what was changed and what is next: [README.md](README.md).",
        "",
        "| scale | employees × days | survey / itsm / device rows | full refresh | incremental "
        "| DuckDB floor | pandas | full ÷ floor | day ÷ floor | day ÷ full | peak RSS (MB) |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, r in results.items():
        rows = r["rows"]
        lines.append(
            f"| {name} | {r['employees']:,} × {r['days']} "
            f"| {rows['survey']:,} / {rows['itsm']:,} / {rows['device']:,} "
            f"| {r['full_refresh_s']:,.1f} | {r['incremental_s']:,.1f} | {r['floor_s']:,.1f} "
            f"| {r['pandas_s']:,.1f} | {r['full_refresh_s'] / r['floor_s']:.2f}× "
            f"| {r['incremental_s'] / r['floor_s']:.2f}× "
            f"| {r['incremental_s'] / r['full_refresh_s']:.3f}× | {r['peak_rss_mb']:,} |"
        )
    lines += ["", f"Wall time at {_chart_scale(results)}:", "", "![wall time](results.svg)", ""]
    on_spark = {name: r for name, r in results.items() if "spark_full_refresh_s" in r}
    if on_spark:
        lines += [
            "## The same runs on Spark, for information",
            "",
            "The loads also write raw Parquet, dbt builds on Spark, gates and publication read",
            "Spark's tables (docs/deploy.md). `spark`: Spark inside the dbt process (pyspark 3.5,",
            "`local[2]`). `spark_thrift`: a standalone cluster on loopback, a master and two",
            "workers of one core each, reached through its Thrift server",
            "(benchmarks/spark_cluster.py; its start-up is not in the runs' times). Full refresh:",
            "the scale's days; daily: the held-back day after it. The published core marts were",
            "checked equal to DuckDB's. Peak RSS is the orchestrator's process tree (with the",
            "Spark driver in local mode; without the cluster's JVMs).",
            "",
            "| scale | target | full refresh (s) | daily run (s) | peak RSS (MB) |",
            "|---|---|--:|--:|--:|",
        ]
        for name, r in on_spark.items():
            lines.append(
                f"| {name} | duckdb | {r['full_refresh_s']:,.1f} | {r['incremental_s']:,.1f} "
                f"| {r['peak_rss_mb']:,} |"
            )
            for target in ("spark", "spark_thrift"):
                if f"{target}_incremental_s" not in r:  # measured before daily Spark runs
                    continue
                lines.append(
                    f"| {name} | {target} | {r[f'{target}_full_refresh_s']:,.1f} "
                    f"| {r[f'{target}_incremental_s']:,.1f} | {r[f'{target}_peak_rss_mb']:,} |"
                )
            if "spark_thrift_startup_s" in r:
                lines.append(f"\nThe cluster started in {r['spark_thrift_startup_s']:,.1f} s.")
        lines.append("")
    if TARGET_SCALE in results:
        lines += [
            f"## Targets at {TARGET_SCALE}",
            "",
            "| target | measured | met |",
            "|---|---|---|",
        ]
        for target, measured, met in targets(results[TARGET_SCALE], results.get(SMALL_SCALE)):
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
