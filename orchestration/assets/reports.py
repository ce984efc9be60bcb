"""The XMO session packs as assets downstream of publication: they read only the published marts."""

from collections.abc import Callable

import dagster as dg

from orchestration.assets.reporting import PUBLISH_KEY
from orchestration.resources import XmoDataDir
from quality.config import GateConfigError, load_gate_config
from reporting.marts import ReportError
from reporting.packs import WrittenPack, write_monthly_pack, write_weekly_pack
from reporting.periods import Period, PeriodError, parse_month, parse_week

WEEKLY_PACK_KEY = dg.AssetKey(["reports", "weekly_pack"])
MONTHLY_PACK_KEY = dg.AssetKey(["reports", "monthly_pack"])


class PackConfig(dg.Config):
    """Which period to write; empty means the last complete one in the published data."""

    period: str = ""


def _metadata(pack: WrittenPack) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {
        "path": dg.MetadataValue.path(str(pack.path)),
        "open": dg.MetadataValue.url(pack.path.as_uri()),
        "period": dg.MetadataValue.text(pack.period.label),
        "covers": dg.MetadataValue.text(f"{pack.period.start} … {pack.period.end}"),
    }
    for name, value in pack.summary.items():
        metadata[name] = (
            dg.MetadataValue.int(value) if isinstance(value, int) else dg.MetadataValue.json(value)
        )
    return metadata


def _pack_asset(
    key: dg.AssetKey,
    write: Callable[..., WrittenPack],
    parse: Callable[[str], Period],
    freshness: dg.FreshnessPolicy | None,
    description: str,
) -> dg.AssetsDefinition:
    @dg.asset(
        key=key,
        deps=[PUBLISH_KEY],
        group_name="reporting",
        kinds={"html"},
        freshness_policy=freshness,
        description=description,
    )
    def _pack(
        context: dg.AssetExecutionContext, config: PackConfig, xmo: XmoDataDir
    ) -> dg.MaterializeResult:
        settings = xmo.settings_from_environment()
        try:
            # The weekly pack warns about unmapped tickets above the coverage check's threshold.
            extra = (
                {"unmapped_share_max": load_gate_config(settings.gates_path).unmapped_share_max}
                if write is write_weekly_pack
                else {}
            )
            period = parse(config.period) if config.period else None
            pack = write(
                settings.reporting_path, settings.reports_dir, period, settings.sources, **extra
            )
        except (PeriodError, ReportError, GateConfigError) as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        context.log.info(f"{key.path[-1]} {pack.period.label}: {pack.path}")
        return dg.MaterializeResult(metadata=_metadata(pack))

    return _pack


def build_pack_assets(
    weekly_freshness: dg.FreshnessPolicy | None = None,
    monthly_freshness: dg.FreshnessPolicy | None = None,
) -> list[dg.AssetsDefinition]:
    weekly = _pack_asset(
        WEEKLY_PACK_KEY,
        write_weekly_pack,
        parse_week,
        weekly_freshness,
        "The weekly XMO session pack (reports/weekly/xmo_weekly_<YYYY-Www>.html): each service in "
        "scope against baseline and target with a 12-week trend, the biggest issues, the "
        "watermelon board, response-rate warnings, device experience and what changed. One "
        "self-contained HTML file; config `period` picks a week (default: the last complete one).",
    )
    monthly = _pack_asset(
        MONTHLY_PACK_KEY,
        write_monthly_pack,
        parse_month,
        monthly_freshness,
        "The monthly XMO session pack (reports/monthly/xmo_monthly_<YYYY-MM>.html): the XLA "
        "scorecard, month over month and against baseline, services newly in scope, top "
        "improvements and declines; config `period` picks a month (default: the last complete).",
    )
    return [weekly, monthly]
