"""Every useful subset of sources runs end to end, as a new XMO starting source by source would.

One organisation, generated with the same seed six times by `xmo generate --sources …`: tickets
only; tickets and surveys; with the directory; tickets, directory and devices without surveys;
all four; all four without proactive answers. Each is run by `xmo run --all` through the real
Dagster job and must publish. Against the complete organisation, each mart that needs a missing
source is published empty with its columns, each mart that does not depend on one is equal
cell for cell, and the ticket figures of the marts that only lose their answers stay the same.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingestion.declared_sources import ALL_SOURCES
from orchestration.cli import main
from quality.specs import MARTS

pytestmark = pytest.mark.integration

# Sixteen weeks: the pilot services join the scope after their twelve-week baseline, so the
# changes mart and the scorecard have weeks to test; 1,500 employees give the pilot services
# enough answers a week to be tested at all.
ORGANISATION = ["--employees", "1500", "--days", "112", "--start", "2026-03-02", "--seed", "4"]
COMPLETE = "all four"
# Name -> (sources, proactive answers).
SUBSETS: dict[str, tuple[tuple[str, ...], bool]] = {
    COMPLETE: (ALL_SOURCES, True),
    "tickets only": (("itsm",), True),
    "tickets and surveys": (("itsm", "survey"), True),
    "tickets, surveys and directory": (("itsm", "survey", "directory"), True),
    "tickets, directory and devices": (("itsm", "directory", "device"), True),
    "all four without proactive answers": (ALL_SOURCES, False),
}
# What the missing proactive answers take away: the one mart of proactive answers.
PROACTIVE = "proactive"
# The figures of marts that lose their answers (or devices) but keep their ticket rows, by mart:
# (key, columns that must not move).
TICKET_FIGURES = {
    "fct_ticket_experience": (
        ["ticket_number"],
        [
            "ticket_type",
            "service_id",
            "opened_at",
            "resolved_at",
            "resolution_hours",
            "priority",
            "channel",
            "made_sla",
            "reopened",
            "reassignment_count",
            "caller_key",
        ],
    ),
    "service_experience_weekly": (
        ["service_id", "week_start"],
        ["tickets_resolved", "tickets_canceled", "mttr_hours", "sla_attainment", "reopen_rate"],
    ),
    "service_experience_monthly": (
        ["service_id", "month_start"],
        ["tickets_resolved", "tickets_canceled", "mttr_hours", "sla_attainment", "reopen_rate"],
    ),
    "watermelon_services": (["service_id", "month_start"], ["sla_attainment", "sla_target"]),
}
# Without surveys, what the journey marts say about devices and tickets stays.
DEVICE_AND_TICKET_FIGURES = {
    "device_ticket_experience_monthly": (
        ["department", "model", "month_start"],
        ["employees", "devices", "dex_score", "tickets_opened", "hardware_tickets"],
    ),
    "dex_band_experience_monthly": (
        ["dex_band", "department", "month_start"],
        ["employees", "tickets_opened", "tickets_per_100_employees", "hardware_tickets"],
    ),
}


@dataclass
class Organisation:
    name: str
    sources: tuple[str, ...]
    proactive: bool
    exit_code: int
    output: str
    marts: dict[str, pd.DataFrame]
    packs: dict[str, str]

    @property
    def missing(self) -> set[str]:
        missing = set(ALL_SOURCES) - set(self.sources)
        return missing if self.proactive else missing | {PROACTIVE}


def _needs(table: str) -> set[str]:
    spec = MARTS[table]
    return set(spec.needs) | ({PROACTIVE} if table == "proactive_experience_monthly" else set())


def _published(reporting: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(reporting), read_only=True)
    try:
        return {
            table: con.execute(f"SELECT * FROM marts.{table} ORDER BY ALL").df() for table in MARTS
        }
    finally:
        con.close()


def _xmo(*args: str) -> tuple[int, str]:
    """`xmo <args>` in this process: its exit code and what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(list(args))
    return code, printed.getvalue()


def _run(root: Path, name: str) -> Organisation:
    sources, proactive = SUBSETS[name]
    data_dir = root / name.replace(" ", "_").replace(",", "")
    os.environ["XMO_DATA_DIR"] = str(data_dir)
    generate = ["generate", *ORGANISATION, "--sources", ",".join(sources)]
    assert _xmo(*generate, *([] if proactive else ["--no-proactive"]))[0] == 0
    exit_code, output = _xmo("run", "--all")
    packs = {
        kind: next((data_dir / "reports" / kind).glob("*.html")).read_text(encoding="utf-8")
        for kind in ("weekly", "monthly")
        if (data_dir / "reports" / kind).is_dir()
    }
    reporting = data_dir / "reporting" / "xmo_reporting.duckdb"
    marts = _published(reporting) if reporting.exists() else {}
    return Organisation(name, sources, proactive, exit_code, output, marts, packs)


@pytest.fixture(scope="module")
def organisations(tmp_path_factory) -> Iterator[dict[str, Organisation]]:
    root = tmp_path_factory.mktemp("subsets")
    saved = dict(os.environ)
    # One pseudonym key for all the organisations, so that their employee keys compare (each
    # data dir would otherwise make its own).
    os.environ["XMO_PSEUDONYM_SALT"] = "subsets-share-one-pseudonym-key-0123456789"
    try:
        yield {name: _run(root, name) for name in SUBSETS}
    finally:
        os.environ.clear()
        os.environ.update(saved)


PARTS = [name for name in SUBSETS if name != COMPLETE]
WITHOUT_SURVEYS = [name for name in PARTS if "survey" not in SUBSETS[name][0]]


@pytest.mark.parametrize("name", list(SUBSETS))
def test_each_organisation_publishes_from_xmo_run_all_with_no_failed_gate(organisations, name):
    organisation = organisations[name]
    assert organisation.exit_code == 0, organisation.output[-3000:]
    assert "Checks passed:" in organisation.output and ", failed: 0" in organisation.output
    assert set(organisation.marts) == set(MARTS)
    # The run says what is not configured and which marts that leaves empty.
    for source in set(ALL_SOURCES) - set(organisation.sources):
        assert f"{source}: not configured — " in organisation.output
    if "device" not in organisation.sources:
        assert (
            "device: not configured — device marts are empty (device_experience_weekly, "
            "device_ticket_experience_monthly, dex_band_experience_monthly)"
        ) in organisation.output


@pytest.mark.parametrize("name", PARTS)
def test_marts_needing_a_missing_source_are_published_empty_with_their_columns(organisations, name):
    organisation, complete = organisations[name], organisations[COMPLETE]
    empty = {t for t in MARTS if _needs(t) & organisation.missing}
    assert empty == EXPECTED_EMPTY[name]
    for table in sorted(empty):
        published = organisation.marts[table]
        assert published.empty, table
        assert list(published.columns) == list(complete.marts[table].columns), table
    # ... and every other mart has rows.
    assert all(not organisation.marts[t].empty for t in set(MARTS) - empty)


@pytest.mark.parametrize("name", PARTS)
def test_marts_that_do_not_depend_on_a_missing_source_equal_the_complete_organisations(
    organisations, name
):
    organisation, complete = organisations[name], organisations[COMPLETE]
    unaffected = {t for t in MARTS if not (MARTS[t].sources | _needs(t)) & organisation.missing}
    assert unaffected == EXPECTED_UNAFFECTED[name]
    for table in sorted(unaffected):
        pd.testing.assert_frame_equal(
            organisation.marts[table], complete.marts[table], rtol=1e-9, obj=table
        )


@pytest.mark.parametrize("name", WITHOUT_SURVEYS)
def test_marts_that_lose_their_answers_keep_their_ticket_and_device_figures(organisations, name):
    organisation, complete = organisations[name], organisations[COMPLETE]
    compared = {**TICKET_FIGURES}
    if "device" in organisation.sources:
        compared.update(DEVICE_AND_TICKET_FIGURES)
    for table, (key, columns) in compared.items():
        part = organisation.marts[table][key + columns]
        whole = complete.marts[table][key + columns]
        # The periods of answers alone (no ticket resolved or canceled) have no row here.
        joined = part.merge(whole, on=key, how="left", suffixes=("", "_complete"), indicator=True)
        assert (joined["_merge"] == "both").all(), table
        for column in columns:
            pd.testing.assert_series_equal(
                joined[column],
                joined[f"{column}_complete"],
                check_names=False,
                rtol=1e-9,
                obj=f"{table}.{column}",
            )
    # Without answers nothing is scored: every happiness figure is empty.
    assert organisation.marts["service_experience_weekly"]["happiness_score"].isna().all()
    assert (organisation.marts["service_experience_weekly"]["responses"] == 0).all()


@pytest.mark.parametrize("name", PARTS)
def test_the_packs_say_what_is_not_configured_in_place_of_its_sections(organisations, name):
    organisation = organisations[name]
    weekly, monthly = organisation.packs["weekly"], organisation.packs["monthly"]
    survey_line = "Not configured: this organisation delivers no survey answers"
    device_line = "Not configured: this organisation delivers no device data"
    if "survey" in organisation.missing:
        # Services, issues, watermelons, response rates and changes: one line each.
        assert weekly.count(survey_line) == 5
        assert "Not shown: Happiness, Lost time / answer, Response rate" in monthly
        assert "<svg" not in weekly.split("<h2>Device experience")[0]
    else:
        assert survey_line not in weekly
    if "device" in organisation.missing:
        assert weekly.count(device_line) == 1 and monthly.count(device_line) == 1
        assert "DEX by model" not in weekly and "DEX bands" not in monthly
    else:
        assert device_line not in weekly + monthly


EXPECTED_EMPTY = {
    "tickets only": {
        "proactive_experience_monthly",
        "experience_changes",
        "experience_hotspots",
        "device_experience_weekly",
        "device_ticket_experience_monthly",
        "dex_band_experience_monthly",
    },
    "tickets and surveys": {
        "device_experience_weekly",
        "device_ticket_experience_monthly",
        "dex_band_experience_monthly",
    },
    "tickets, surveys and directory": {
        "device_experience_weekly",
        "device_ticket_experience_monthly",
        "dex_band_experience_monthly",
    },
    "tickets, directory and devices": {
        "proactive_experience_monthly",
        "experience_changes",
        "experience_hotspots",
    },
    "all four without proactive answers": {"proactive_experience_monthly"},
}
_SURVEY_ONLY_FREE = {"dim_service"}
_DEVICE_FREE = {
    "dim_service",
    "fct_ticket_experience",
    "service_experience_weekly",
    "service_experience_monthly",
    "channel_experience_monthly",
    "proactive_experience_monthly",
    "experience_changes",
    "experience_hotspots",
    "watermelon_services",
}
EXPECTED_UNAFFECTED = {
    "tickets only": _SURVEY_ONLY_FREE,
    "tickets and surveys": _DEVICE_FREE,
    "tickets, surveys and directory": _DEVICE_FREE,
    "tickets, directory and devices": {"dim_service", "device_experience_weekly"},
    "all four without proactive answers": set(MARTS) - {"proactive_experience_monthly"},
}
