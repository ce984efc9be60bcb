"""Nexthink NQL API: a client that runs a saved NQL query (execute or export endpoint), and the
pull that lands device days."""

from ingestion.nexthink.client import (
    EXECUTE_ROW_LIMIT,
    ExecuteRowLimitError,
    NexthinkClient,
    NexthinkError,
    NexthinkSettings,
    NqlResult,
    settings_from_env,
)
from ingestion.nexthink.pull import PullResult, device_landing_path, pull_device_days

__all__ = [
    "EXECUTE_ROW_LIMIT",
    "ExecuteRowLimitError",
    "NexthinkClient",
    "NexthinkError",
    "NexthinkSettings",
    "NqlResult",
    "PullResult",
    "device_landing_path",
    "pull_device_days",
    "settings_from_env",
]
