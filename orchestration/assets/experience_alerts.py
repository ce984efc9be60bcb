"""Experience-drop alerts after publication: each significant worsening said once, with its pack."""

import dagster as dg

from orchestration.assets.reporting import PUBLISH_KEY
from orchestration.assets.reports import WEEKLY_PACK_KEY
from orchestration.resources import XmoDataDir
from reporting.experience_alerts import AlertTargets, send_experience_alerts
from reporting.marts import ReportError

EXPERIENCE_ALERTS_KEY = dg.AssetKey(["reports", "experience_alerts"])


def _bullets(lines: list[str], empty: str) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- {line}" for line in lines) or empty)


@dg.asset(
    key=EXPERIENCE_ALERTS_KEY,
    # After the weekly pack, so that the pack each alert links to exists.
    deps=[PUBLISH_KEY, WEEKLY_PACK_KEY],
    group_name="reporting",
)
def experience_alerts(context: dg.AssetExecutionContext, xmo: XmoDataDir) -> dg.MaterializeResult:
    """Experience-drop alerts for the newest complete week of the published marts.

    One alert per service × week × indicator that `marts.experience_changes` finds significantly
    worse (against the previous 4 weeks or the baseline): a line in
    $XMO_DATA_DIR/alerts/experience.log and a JSON POST to XMO_EXPERIENCE_WEBHOOK (else
    XMO_ALERT_WEBHOOK), linking the week's pack. Each is raised once, whatever the re-runs; a
    webhook that fails is reported here and retried by later runs, never fails the run.
    """
    settings = xmo.settings_from_environment()
    targets = AlertTargets(
        log_path=settings.experience_alerts_log,
        ledger_path=settings.experience_alerts_ledger,
        webhook=settings.experience_alerts_webhook,
        reports_dir=settings.reports_dir,
        reports_url=settings.reports_url,
    )
    try:
        outcome = send_experience_alerts(settings.reporting_path, targets)
    except ReportError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    for line in outcome.sent:
        context.log.warning(line)
    for problem in outcome.problems:
        context.log.error(f"experience alert not posted: {problem}")
    return dg.MaterializeResult(
        metadata={
            "week": dg.MetadataValue.text(outcome.week.label),
            "alerts_sent": dg.MetadataValue.int(len(outcome.sent)),
            "alerts": _bullets(outcome.sent, "no new significant drops"),
            "webhook_posts": dg.MetadataValue.int(outcome.posted),
            "problems": _bullets(outcome.problems, "none"),
            "log": dg.MetadataValue.path(str(targets.log_path)),
        }
    )
