"""Framework-free ingestion: landing files to the DuckDB raw layer, with contracts and quarantine.

Nothing in this package imports Dagster; `orchestration/` wraps these functions in assets.
"""
