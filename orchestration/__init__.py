"""Dagster wiring: assets, checks, partitions, resources and the `xmo` command.

No business logic lives here; it calls `ingestion/`, `quality/` and the dbt project.
"""
