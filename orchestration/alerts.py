"""Alerts for failed runs: a line in the alert log and, when configured, a webhook post.

The message says what a person needs first: which job and partition, which step or gate
failed and why, and where to look (the run's page in the Dagster UI).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType

from orchestration.partitions import extract_window_vars
from reporting.notify import append_line, post_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunAlert:
    job: str
    run_id: str
    partition: str | None
    url: str
    failed_steps: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        where = f" partition {self.partition}" if self.partition else ""
        parts = [f"XMO run FAILED: {self.job}{where} (run {self.run_id[:8]})"]
        if self.failed_checks:
            parts.append("failed checks: " + "; ".join(self.failed_checks))
        if self.failed_steps:
            parts.append("failed steps: " + "; ".join(self.failed_steps))
        parts.append(f"nothing new was published; see {self.url}")
        return " | ".join(parts)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else "no message"


def describe_failed_run(instance: dg.DagsterInstance, run: dg.DagsterRun, ui_url: str) -> RunAlert:
    """The alert for a failed run, from its event log."""
    steps: list[str] = []
    for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE):
        event = entry.dagster_event
        error = event.step_failure_data.error if event else None
        steps.append(f"{event.step_key if event else '?'}: {_first_line(error and error.message)}")
    checks: list[str] = []
    for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
        if evaluation is not None and not evaluation.passed:
            description = evaluation.description or ""
            checks.append(
                f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                + (f" ({_first_line(description)})" if description else "")
            )
    return RunAlert(
        job=run.job_name,
        run_id=run.run_id,
        partition=_partitions(run),
        url=f"{ui_url}/runs/{run.run_id}",
        failed_steps=steps,
        failed_checks=checks,
    )


def _partitions(run: dg.DagsterRun) -> str | None:
    window = extract_window_vars(run.tags)
    if not window:
        return None
    first, last = window["extract_date_from"], window["extract_date_to"]
    return first if first == last else f"{first}…{last}"


def deliver(alert: RunAlert, alerts_log: Path, webhook: str | None) -> list[str]:
    """Write the alert line; post it to the webhook when set. Returns problems, if any.

    The webhook body is Slack/Teams/Mattermost-compatible (`text`) and carries the fields too.
    A webhook that fails is reported, not raised: the line in the log is already written.
    """
    append_line(alerts_log, alert.text)
    log.error(alert.text)
    if not webhook:
        return []
    return post_json(webhook, {"text": alert.text, **asdict(alert)})
