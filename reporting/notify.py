"""Deliver an alert: a timestamped line in a log file and, when one is set, a webhook POST.

Dagster-free, so that the failed-run alerts (orchestration/alerts.py) and the experience-drop
alerts (reporting/experience_alerts.py) write and post the same way.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

WEBHOOK_TIMEOUT_S = 10


def append_line(log_path: Path, text: str) -> None:
    """One line, `<UTC timestamp> <text>`, appended to the log (created with its folder)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(f"{stamp} {text}\n")


def post_json(webhook: str, body: Mapping[str, Any]) -> list[str]:
    """POST `body` as JSON. Returns problems, if any: a webhook that fails is reported, not raised.

    Slack, Teams and Mattermost incoming webhooks read the `text` field and ignore the others.
    """
    request = urllib.request.Request(
        webhook,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            if response.status >= 300:
                return [f"webhook answered HTTP {response.status}"]
    except urllib.error.HTTPError as error:
        return [f"webhook answered HTTP {error.code}"]
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        return [f"webhook not reached: {getattr(error, 'reason', error)}"]
    return []
