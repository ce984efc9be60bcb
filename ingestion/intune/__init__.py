"""Microsoft Intune endpoint analytics through Microsoft Graph: a client and the pull that
lands the tenant's current device snapshot as one device day."""

from ingestion.intune.client import (
    PERMISSION,
    IntuneClient,
    IntuneError,
    IntuneSettings,
    ResourceUnavailable,
    settings_from_env,
)
from ingestion.intune.pull import (
    COLUMNS,
    IntunePullResult,
    device_landing_path,
    device_type,
    pull_device_snapshot,
)

__all__ = [
    "COLUMNS",
    "PERMISSION",
    "IntuneClient",
    "IntuneError",
    "IntunePullResult",
    "IntuneSettings",
    "ResourceUnavailable",
    "device_landing_path",
    "device_type",
    "pull_device_snapshot",
    "settings_from_env",
]
