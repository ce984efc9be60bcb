"""A dbt-duckdb plugin that hands the installation's pseudonym key to DuckDB, never to the SQL.

The models pseudonymise with `getvariable('xmo_pseudonym_key')` (macros/pseudonymize.sql), so
their compiled SQL, dbt's manifests and run results name a variable, not the key. This plugin
sets the variable on each connection and cursor dbt opens, from the environment the
orchestrator gives the dbt process (DBT_ENV_SECRET_XMO_PSEUDONYM_KEY, which dbt masks in its
logs). Without it the variable stays unset and every pseudonymising model fails, saying so.
"""

from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from ingestion.pseudonym_key import DBT_ENVIRONMENT_VARIABLE

VARIABLE = "xmo_pseudonym_key"


class Plugin(BasePlugin):
    def _set_key(self, conn: DuckDBPyConnection) -> None:
        key = os.environ.get(DBT_ENVIRONMENT_VARIABLE)
        if key:
            conn.execute(f"SET VARIABLE {VARIABLE} = ?", [key])

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        self._set_key(conn)

    def configure_cursor(self, cursor: DuckDBPyConnection) -> None:
        # DuckDB's variables belong to a connection; each cursor dbt opens is one.
        self._set_key(cursor)
