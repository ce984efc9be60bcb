"""Every ticket finds its service: mapping rules on an export without business services.

An incident event log in the shape of the public ServiceNow one (no business_service column,
tickets worked by numbered groups, day-first minute times) runs through `xmo run --all` as a
tickets-only organisation. `xmo services suggest` drafts the rules from it; mapping its three
biggest groups puts their tickets under their services and leaves the rest `unmapped`, counted
and reported. And an organisation with a business-service mapping alone gets, ticket for
ticket, the services the mapping gave before there were rules.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.cli import main
from orchestration.settings import PROJECT_SEEDS_DIR, Settings, stage_reference_seeds
from tests.integration.warehouse import dbt_build, load, query

pytestmark = pytest.mark.integration

FIRST = date(2026, 3, 2)
DAYS = 14
HEADER = (
    "number,incident_state,active,reassignment_count,reopen_count,sys_mod_count,made_sla,"
    "caller_id,opened_at,sys_updated_at,contact_type,location,category,subcategory,cmdb_ci,"
    "priority,assignment_group,resolved_at,closed_at"
)
# Tickets per group, as in the public log: a few big groups and a long tail (and a few without).
GROUPS = {"Group 56": 40, "Group 70": 25, "Group 24": 15, "Group 12": 8, "Group 9": 5, "": 3}
CATEGORIES = ("Category 55", "Category 26", "Category 53")
# The XMO maps its three biggest groups.
RULES = {"Group 56": "SVC04", "Group 70": "SVC05", "Group 24": "SVC06"}


def _minute(day: date, hour: int) -> str:
    return f"{day.day}/{day.month}/{day.year} {hour:02d}:00"


def write_event_log(landing: Path) -> dict[str, str]:
    """Each ticket opened one day and resolved the next, in the extracts of those days; returns
    each ticket's group."""
    rows: dict[date, list[str]] = {}
    groups = {}
    number = 0
    for group, count in GROUPS.items():
        for i in range(count):
            number += 1
            ticket = f"INC{number:07d}"
            groups[ticket] = group
            opened = FIRST + timedelta(days=number % (DAYS - 1))
            resolved = opened + timedelta(days=1)
            category = CATEGORIES[i % len(CATEGORIES)]
            common = (
                f"Caller {number},{_minute(opened, 9)},{{updated}},Phone,Location 1,{category},"
                f"Subcategory {i % 4},?,3 - Moderate,{group or '?'}"
            )
            opening = common.format(updated=_minute(opened, 9))
            resolving = common.format(updated=_minute(resolved, 11))
            new = f"{ticket},New,TRUE,0,0,0,TRUE,{opening},?,?"
            done = f"{ticket},Resolved,FALSE,0,0,1,TRUE,{resolving},{_minute(resolved, 11)},?"
            rows.setdefault(opened, []).append(new)
            rows.setdefault(resolved, []).append(done)
    for day, lines in rows.items():
        folder = landing / "itsm" / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "incident_log.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    return groups


def _xmo(*args: str) -> tuple[int, str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(list(args))
    return code, printed.getvalue()


@pytest.fixture(scope="module")
def event_log(tmp_path_factory) -> Iterator[tuple[Settings, dict[str, str], dict[str, str]]]:
    """The export run as a tickets-only organisation: first unmapped, then with its rules."""
    data_dir = tmp_path_factory.mktemp("event_log") / "data"
    saved = dict(os.environ)
    os.environ.update({"XMO_DATA_DIR": str(data_dir), "XMO_SOURCES": "itsm"})
    try:
        settings = Settings.from_env()
        groups = write_event_log(settings.landing_dir)
        settings.mappings_dir.mkdir(parents=True)
        (settings.mappings_dir / "itsm.yml").write_text('datetime_format: "dd/MM/yyyy HH:mm"\n')
        code, before = _xmo("run", "--all")
        assert code == 0, before[-3000:]
        code, suggested = _xmo("services", "suggest")
        assert code == 0, suggested
        with settings.draft_rules_path.open() as handle:
            draft = list(csv.DictReader(handle))
        # The XMO fills in its three biggest groups and saves the draft as its rules.
        for row in draft:
            row["service_id"] = (
                RULES.get(row["value"], "") if row["field"] == "assignment_group" else ""
            )
        settings.reference_dir.mkdir(parents=True)
        with (settings.reference_dir / "service_mapping_rules.csv").open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(draft[0]))
            writer.writeheader()
            writer.writerows(draft)
        code, after = _xmo("run", "--all")
        assert code == 0, after[-3000:]
        yield settings, groups, {"before": before, "suggested": suggested, "after": after}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_draft_lists_the_groups_and_categories_by_volume(event_log):
    settings, _, printed = event_log
    with settings.draft_rules_path.open() as handle:
        draft = list(csv.DictReader(handle))
    by_group = [(r["value"], int(r["tickets"])) for r in draft if r["field"] == "assignment_group"]
    # Most frequent first, each with its count; tickets without a group are not a value.
    assert by_group == [(g, n) for g, n in GROUPS.items() if g]
    assert [r["field"] for r in draft] == ["assignment_group"] * 5 + ["category"] * 3
    assert all(r["service_id"] == "" for r in draft)
    assert [int(r["precedence"]) for r in draft] == list(range(10, 90, 10))
    assert float(next(r for r in draft if r["value"] == "Group 56")["share"]) == pytest.approx(
        40 / 96, abs=1e-4
    )
    assert (
        "assignment_group      5 values; the 5 biggest hold 97% of the tickets"
        in (printed["suggested"])
    )


def test_mapped_groups_are_published_under_their_services_and_the_rest_unmapped(event_log):
    settings, groups, _ = event_log
    published = dict(
        query(
            settings.reporting_path,
            "SELECT service_id, sum(tickets_resolved) FROM marts.service_experience_weekly "
            "GROUP BY 1",
        )
    )
    expected = Counter(RULES.get(group, "unmapped") for group in groups.values())
    assert published == dict(expected)
    rules = dict(
        query(
            settings.reporting_path,
            "SELECT DISTINCT assignment_group, mapping_rule FROM marts.fct_ticket_experience "
            "WHERE assignment_group IS NOT NULL",
        )
    )
    assert rules["Group 56"] == "assignment_group = Group 56"
    assert rules["Group 12"] is None  # no rule: unmapped, and said so


def test_the_unmapped_share_is_reported_by_the_run_and_warned_above_its_limit(event_log):
    _, _, printed = event_log
    # Before the rules every ticket was unmapped; after them 16 of 96 are (17 %, over 10 %).
    assert "Unmapped: 100.0% of the" in printed["before"]
    assert "WARNING check marts/fct_ticket_experience:" in printed["after"]
    line = next(line for line in printed["after"].splitlines() if line.startswith("Unmapped:"))
    assert "map to no service, over 10%: add mapping rules" in line


def test_an_organisation_mapping_by_business_service_alone_gets_the_services_it_had(tmp_path):
    # The mapping as it was before rules: the ticket's business service, in any case and
    # spacing, looked up in business_service_mapping; no match, unmapped.
    settings = Settings.from_env({"XMO_DATA_DIR": str(tmp_path / "data")})
    config = GeneratorConfig(employees=300, days=21, start=FIRST, seed=3)
    generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, config)
    (settings.reference_dir / "service_mapping_rules.csv").unlink()
    stage_reference_seeds(settings)
    load(settings, [FIRST + timedelta(days=i) for i in range(config.days)])
    dbt_build(settings, tmp_path / "target", "--select", "+int_tickets_mapped_to_services")
    mapped = pd.DataFrame(
        query(
            settings.warehouse_path,
            """SELECT t.ticket_number, t.service_id,
                coalesce(m.service_id, 'unmapped') AS service_by_business_service
            FROM intermediate.int_tickets_mapped_to_services AS t
            JOIN staging.stg_itsm__tickets AS s USING (ticket_number)
            LEFT JOIN reference.business_service_mapping AS m
                ON lower(trim(s.business_service)) = lower(trim(m.business_service))""",
        ),
        columns=["ticket", "service", "before"],
    )
    assert len(mapped) > 150
    assert (mapped["service"] == mapped["before"]).all()
    # The generator leaves some business services empty: without rules those are unmapped.
    assert (mapped["service"] == "unmapped").mean() > 0.1
