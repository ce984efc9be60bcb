"""Write a synthetic organisation's landing files and reference data, deterministically.

One call produces every daily extract folder of DESIGN §3 for a timeline that ends yesterday
(unless a start is given): ServiceNow ticket versions in the extract of the day they changed,
survey responses in the extract of the day they were given, a daily device snapshot, and a
directory snapshot on the first day and every Monday. The reference data (service catalog with
the dates services join the XM scope, business-service mapping) is written beside it, so the
scope dates always fall inside the generated timeline.

An organisation that delivers only some sources (`sources`), or runs no proactive surveys, is
the same organisation with those files left out: everything is drawn as for the complete one,
so each source it does deliver is identical, file for file, to the complete organisation's.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.declared_sources import ALL_SOURCES, parse_sources
from ingestion.synthetic import calibration as cal
from ingestion.synthetic import organisation as org
from ingestion.synthetic.bad_rows import corrupt_landing, save_one_survey_as_windows_1252
from ingestion.synthetic.business_hours import add_business_seconds

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
BASELINE_WEEKS = 12
PROACTIVE_MONTHLY_SHARE = 0.04


@dataclass(frozen=True)
class GeneratorConfig:
    employees: int = 5_000
    days: int = 180
    start: date | None = None
    seed: int = 7
    bad_rows: float = 0.0
    response_rate: float = cal.RESPONSE_RATE
    # The sources whose landing files are written (the organisation's declared sources).
    sources: tuple[str, ...] = ALL_SOURCES
    # False: an organisation that runs ticket surveys only (no proactive answers are written).
    proactive: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", parse_sources(self.sources, "sources"))

    def timeline(self) -> tuple[date, date]:
        """(first day, last day); by default the last day is yesterday (UTC)."""
        if self.start is None:
            last = datetime.now(UTC).date() - timedelta(days=1)
            return last - timedelta(days=self.days - 1), last
        return self.start, self.start + timedelta(days=self.days - 1)


@dataclass
class GenerationSummary:
    first_day: date
    last_day: date
    files: int = 0
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    bad_rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Files saved in another encoding than UTF-8 (with --bad-rows), and the mapping reading them.
    other_encodings: list[Path] = field(default_factory=list)


def _monday_on_or_after(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


def scope_starts(first_day: date) -> dict[str, date]:
    """The pilot joins after a full baseline window; later cohorts follow every four weeks."""
    pilot = _monday_on_or_after(first_day + timedelta(weeks=BASELINE_WEEKS))
    return {s.service_id: pilot + timedelta(weeks=4 * s.scope_cohort) for s in org.SERVICES}


def _fmt_ts(seconds: np.ndarray, epoch: datetime) -> list[str]:
    base = np.datetime64(epoch.replace(tzinfo=None), "s")
    stamps = base + seconds.astype("int64").astype("timedelta64[s]")
    return [str(s).replace("T", " ") for s in stamps]


class _Writer:
    """Writes the landing files of the organisation's sources and counts them; the files of
    other sources are drawn all the same and not written."""

    def __init__(
        self, landing_dir: Path, summary: GenerationSummary, sources: tuple[str, ...]
    ) -> None:
        self.landing_dir = landing_dir
        self.summary = summary
        self.sources = sources

    def folder(self, source: str, day: date) -> Path:
        path = self.landing_dir / source / day.isoformat()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def csv(self, source: str, day: date, name: str, frame: pd.DataFrame) -> None:
        if source not in self.sources:
            return
        frame.to_csv(self.folder(source, day) / name, index=False, quoting=csv.QUOTE_MINIMAL)
        self.summary.files += 1
        self.summary.rows[source] += len(frame)

    def json(self, source: str, day: date, name: str, records: list[dict]) -> None:
        if source not in self.sources:
            return
        with (self.folder(source, day) / name).open("w", encoding="utf-8") as handle:
            json.dump({"result": records}, handle)
        self.summary.files += 1
        self.summary.rows[source] += len(records)

    def parquet(self, source: str, day: date, name: str, table: pa.Table) -> None:
        if source not in self.sources:
            return
        pq.write_table(table, self.folder(source, day) / name)
        self.summary.files += 1
        self.summary.rows[source] += table.num_rows


def generate(
    landing_dir: Path,
    reference_dir: Path,
    template_dir: Path,
    config: GeneratorConfig,
    mappings_dir: Path | None = None,
) -> GenerationSummary:
    """Write landing files under `landing_dir` and reference CSVs under `reference_dir`.

    `template_dir` holds the organisation-independent seeds (channel mapping, factor catalog),
    copied beside the generated catalog so `reference_dir` is a complete seed folder. With bad
    rows and a `mappings_dir`, one survey file is saved as Windows-1252 and the survey mapping
    there names the encodings to try.
    """
    first_day, last_day = config.timeline()
    summary = GenerationSummary(first_day=first_day, last_day=last_day)
    rng = np.random.default_rng(config.seed)
    writer = _Writer(landing_dir, summary, config.sources)
    days = [first_day + timedelta(days=i) for i in range(config.days)]
    epoch = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)

    employees = _employees(rng, config.employees)
    _write_reference(reference_dir, template_dir, first_day)
    for day in days:
        if day == first_day or day.weekday() == 0:
            writer.csv("directory", day, "sys_user.csv", _directory_snapshot(employees))
    tickets = _tickets(rng, config, days, employees)
    _write_itsm(writer, tickets, days, epoch)
    responses = _ticket_responses(rng, config, tickets, days)
    # The requester of a request closed incomplete or skipped is not surveyed: the survey goes
    # out with the resolution. Left out when written, so every other answer stays as drawn.
    unresolved = set(tickets.loc[tickets["request_ending"] != "", "number"])
    responses["written"] = ~responses["ticket_number"].isin(unresolved)
    proactive = _proactive_responses(rng, config, employees, days)
    proactive["written"] = config.proactive
    _write_surveys(
        writer, pd.concat([responses, proactive], ignore_index=True), epoch, rng, len(days)
    )
    _write_devices(writer, rng, employees, days)
    if config.bad_rows > 0:
        _inject_bad_rows(landing_dir, days, config.bad_rows, rng, summary)
        if mappings_dir is not None:
            _save_a_survey_as_windows_1252(landing_dir, mappings_dir, days, summary)
    log.info("generated %s files: %s", summary.files, dict(summary.rows))
    return summary


def ticket_survey_answers(config: GeneratorConfig) -> pd.DataFrame:
    """The organisation's ticket-survey answers, drawn in memory as `generate` draws them.

    One row per answer: service_id, happiness, lost_time_minutes (NaN when not given). The
    uncertainty harness (quality/uncertainty.py) samples weeks from it, so its lost-time
    distribution is the calibrated one, not a stand-in.
    """
    first_day, _ = config.timeline()
    rng = np.random.default_rng(config.seed)
    days = [first_day + timedelta(days=i) for i in range(config.days)]
    employees = _employees(rng, config.employees)
    tickets = _tickets(rng, config, days, employees)
    answers = _ticket_responses(rng, config, tickets, days)
    # As in `generate`: a request closed incomplete or skipped is never surveyed.
    unresolved = set(tickets.loc[tickets["request_ending"] != "", "number"])
    answers = answers[~answers["ticket_number"].isin(unresolved)]
    service = tickets.set_index("number")["service_id"]
    return pd.DataFrame(
        {
            "service_id": answers["ticket_number"].map(service).to_numpy(),
            "happiness": answers["happiness"].to_numpy(),
            "lost_time_minutes": answers["lost_time_minutes"].to_numpy(dtype=float),
        }
    )


def _employees(rng: np.random.Generator, n: int) -> pd.DataFrame:
    location_idx = rng.integers(0, len(org.LOCATIONS), n)
    model_shares = np.array([m[2] for m in org.DEVICE_MODELS])
    model_idx = rng.choice(len(org.DEVICE_MODELS), n, p=model_shares / model_shares.sum())
    return pd.DataFrame(
        {
            "employee_id": [f"E{i:06d}" for i in range(1, n + 1)],
            "department": rng.choice(org.DEPARTMENTS, n),
            "location": [org.LOCATIONS[i][0] for i in location_idx],
            "country": [org.LOCATIONS[i][1] for i in location_idx],
            "job_role": rng.choice(org.JOB_ROLES, n),
            "vip": rng.random(n) < 0.02,
            "model_idx": model_idx,
            "device_id": [f"D{i:06d}" for i in range(1, n + 1)],
            # Per-device disk and battery state drift slowly from these starting points.
            "disk_free_start": rng.uniform(8, 70, n),
            "battery_start": rng.uniform(*cal.BATTERY_START_RANGE, n),
        }
    )


# The directory's sign-in names, as ServiceNow's sys_user carries them (user_name/email): what
# device sources that know no employee number (Intune) name a device's user by.
USER_PRINCIPAL_DOMAIN = "corp.example"


def user_principal_name(employee_id: str) -> str:
    return f"{employee_id.lower()}@{USER_PRINCIPAL_DOMAIN}"


def _directory_snapshot(employees: pd.DataFrame) -> pd.DataFrame:
    frame = employees[["employee_id", "department", "country", "location", "job_role", "vip"]]
    return frame.assign(
        vip=frame["vip"].map({True: "true", False: "false"}),
        user_principal_name=frame["employee_id"].map(user_principal_name),
    )


def _write_reference(reference_dir: Path, template_dir: Path, first_day: date) -> None:
    reference_dir.mkdir(parents=True, exist_ok=True)
    for name in ("channel_mapping.csv", "survey_factors.csv"):
        shutil.copyfile(template_dir / name, reference_dir / name)
    starts = scope_starts(first_day)
    pd.DataFrame(
        {
            "service_id": [s.service_id for s in org.SERVICES],
            "service_name": [s.service_name for s in org.SERVICES],
            "service_owner": [s.owner for s in org.SERVICES],
            "xm_scope_start": [starts[s.service_id].isoformat() for s in org.SERVICES],
        }
    ).to_csv(reference_dir / "service_catalog.csv", index=False)
    pd.DataFrame(
        [(name, s.service_id) for s in org.SERVICES for name in s.business_services],
        columns=["business_service", "service_id"],
    ).to_csv(reference_dir / "business_service_mapping.csv", index=False)
    # Tickets without a business service are mapped by the team that worked them.
    pd.DataFrame(
        [
            (
                10 * (i + 1),
                "assignment_group",
                "",
                org.ASSIGNMENT_GROUPS[s.service_id],
                s.service_id,
            )
            for i, s in enumerate(org.SERVICES)
        ],
        columns=["precedence", "field", "ticket_type", "value", "service_id"],
    ).to_csv(reference_dir / "service_mapping_rules.csv", index=False)


def storm_days(days: list[date]) -> np.ndarray:
    """The storm's days: the last STORM_DAYS days up to the last Sunday of the timeline.

    It ends with the newest complete week, the week a run's session pack and experience-drop
    alerts look at, so a demo shows the drop being detected and alerted.
    """
    sundays = [i for i, day in enumerate(days) if day.weekday() == 6]
    end = sundays[-1] + 1 if sundays else len(days)
    mask = np.zeros(len(days), dtype=bool)
    mask[max(0, end - org.STORM_DAYS) : end] = True
    return mask


def _bad_client_days(days: list[date]) -> np.ndarray:
    """The days the bad client version runs at org.BAD_CLIENT_LOCATION."""
    start = int(len(days) * org.BAD_CLIENT_START_FRACTION)
    mask = np.zeros(len(days), dtype=bool)
    mask[start : start + org.BAD_CLIENT_DAYS] = True
    return mask


_SLOW_DISK = [m[0] for m in org.DEVICE_MODELS].index(org.SLOW_DISK_MODEL)
_DEVICE_SERVICE = [s.incident_category for s in org.SERVICES].index("hardware")


def _device_incident_weights(employees: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each employee's weight as a device incident's caller: on usual days, on bad-client days."""
    model_idx = employees["model_idx"].to_numpy()
    crash_rate = np.array([m[4] for m in org.DEVICE_MODELS])[model_idx]
    crashes_and_freezes = crash_rate * (1 + org.FREEZES_PER_CRASH)
    slow_disk = np.where(model_idx == _SLOW_DISK, org.SLOW_DISK_TICKET_FACTOR, 1.0)
    at_bad_site = employees["location"].to_numpy() == org.BAD_CLIENT_LOCATION
    bad_client = np.where(at_bad_site, org.BAD_CLIENT_CRASH_FACTOR, 1.0)
    usual = slow_disk * (1 + org.CRASH_TICKET_WEIGHT * crashes_and_freezes)
    on_bad_days = slow_disk * (1 + org.CRASH_TICKET_WEIGHT * crashes_and_freezes * bad_client)
    return usual, on_bad_days


def _device_incident_callers(
    rng: np.random.Generator, employees: pd.DataFrame, on_bad_day: np.ndarray
) -> np.ndarray:
    """A caller for each device incident, drawn towards the employees whose device is poor."""
    usual, on_bad_days = _device_incident_weights(employees)
    n = on_bad_day.size
    usual_pick = rng.choice(len(employees), n, p=usual / usual.sum())
    bad_pick = rng.choice(len(employees), n, p=on_bad_days / on_bad_days.sum())
    return np.where(on_bad_day, bad_pick, usual_pick)


def _tickets(
    rng: np.random.Generator, config: GeneratorConfig, days: list[date], employees: pd.DataFrame
) -> pd.DataFrame:
    n_days = len(days)
    weekday = np.array([d.weekday() for d in days])
    doy = np.array([d.timetuple().tm_yday for d in days])
    seasonal = 1.0 + 0.12 * np.cos(2 * np.pi * (doy - 20) / 365.0)  # busier in winter
    day_factor = np.where(weekday >= 5, cal.WEEKEND_FACTOR, 1.0) * seasonal
    weights = np.array([s.weight for s in org.SERVICES])
    weights = weights / weights.sum()
    expected = config.employees * cal.TICKETS_PER_EMPLOYEE_PER_DAY * day_factor
    counts = rng.poisson(expected)
    day_idx = np.repeat(np.arange(n_days), counts)
    service_idx = rng.choice(len(org.SERVICES), day_idx.size, p=weights)
    # The storm: extra incidents on one service for three weeks.
    storm = storm_days(days)
    storm_service = [s.service_id for s in org.SERVICES].index(org.STORM_SERVICE)
    extra = rng.poisson(expected * weights[storm_service] * (org.STORM_VOLUME_FACTOR - 1) * storm)
    day_idx = np.concatenate([day_idx, np.repeat(np.arange(n_days), extra)])
    service_idx = np.concatenate([service_idx, np.full(extra.sum(), storm_service)])
    n = day_idx.size
    in_storm = storm[day_idx] & (service_idx == storm_service)

    request_share = np.array([s.request_share for s in org.SERVICES])[service_idx]
    is_request = (rng.random(n) < request_share) & ~in_storm
    pr_share = np.array([p[1] for p in org.PRIORITIES])
    priority_idx = rng.choice(len(org.PRIORITIES), n, p=pr_share / pr_share.sum())
    median_h = np.array([p[2] for p in org.PRIORITIES])[priority_idx]
    sla_h = np.array([p[3] for p in org.PRIORITIES])[priority_idx]
    sla_boost = np.array([s.sla_boost for s in org.SERVICES])[service_idx]
    # Business hours to resolve, on the desk's clock (business_hours), log-normal.
    resolution_h = (
        median_h
        * sla_boost
        * np.exp(rng.normal(0, cal.RESOLUTION_SIGMA, n))
        * np.where(in_storm, org.STORM_RESOLUTION_FACTOR, 1)
    )
    resolution_h = np.maximum(resolution_h, 0.1)
    hour = np.clip(rng.normal(cal.ARRIVAL_HOUR_MEAN, cal.ARRIVAL_HOUR_SD, n), 0, 23.99)
    opened_s = day_idx * SECONDS_PER_DAY + (hour * 3600).astype(np.int64)
    resolved_s = _after_business_hours(opened_s, resolution_h, days[0])
    canceled = (~is_request) & (rng.random(n) < cal.CANCELED_INCIDENT_SHARE)
    reassignment = rng.geometric(cal.REASSIGNMENT_GEOMETRIC_P, n) - 1 + in_storm.astype(int)
    reopened = rng.random(n) < cal.REOPEN_SHARE
    ct_share = np.array([c[1] for c in org.CONTACT_TYPES])
    contact_idx = rng.choice(len(org.CONTACT_TYPES), n, p=ct_share / ct_share.sum())
    service = np.array([s.service_id for s in org.SERVICES])[service_idx]
    mapped_names = [s.business_services for s in org.SERVICES]
    business_service = np.array(
        [
            names[k % len(names)]
            for names, k in zip(
                (mapped_names[i] for i in service_idx), rng.integers(0, 6, n), strict=True
            )
        ],
        dtype=object,
    )
    unmapped = rng.random(n) < org.UNMAPPED_SHARE
    business_service[unmapped] = org.UNMAPPED_BUSINESS_SERVICE
    groups = np.array([org.ASSIGNMENT_GROUPS[s.service_id] for s in org.SERVICES], dtype=object)
    assignment_group = groups[service_idx]
    assignment_group[unmapped] = org.UNMAPPED_ASSIGNMENT_GROUP
    low, high = cal.AUTO_CLOSE_DAYS
    close_delay_s = rng.integers(low, high + 1, n) * SECONDS_PER_DAY
    category = np.where(
        is_request, "request", np.array([s.incident_category for s in org.SERVICES])[service_idx]
    )
    frame = pd.DataFrame(
        {
            "sys_id": [f"{a:016x}{b:016x}" for a, b in rng.integers(0, 2**63, (n, 2))],
            "is_request": is_request,
            "service_id": service,
            "business_service": business_service,
            "assignment_group": assignment_group,
            "priority": np.array([p[0] for p in org.PRIORITIES])[priority_idx],
            "contact_type": np.array([c[0] for c in org.CONTACT_TYPES])[contact_idx],
            "category": category,
            "caller_idx": rng.integers(0, len(employees), n),
            "opened_s": opened_s,
            "resolved_s": resolved_s,
            "closed_s": resolved_s + np.where(is_request, 0, close_delay_s),
            "canceled": canceled,
            "made_sla": resolution_h <= sla_h,
            "reassignment_count": reassignment,
            "reopen_count": reopened.astype(int),
            "in_storm": in_storm,
            "resolution_h": resolution_h,
        }
    )
    # Device incidents come more from poor devices; other tickets keep their uniform callers.
    # Drawn from a stream of their own, so every other draw of the organisation stays the same.
    device_incident = (service_idx == _DEVICE_SERVICE) & ~is_request
    bad_days = _bad_client_days(days)
    frame.loc[device_incident, "caller_idx"] = _device_incident_callers(
        rng.spawn(1)[0], employees, bad_days[day_idx[device_incident]]
    )
    # Requests that end undelivered, Closed Incomplete or Closed Skipped ("2-5 % canceled"):
    # from a stream of their own too, spawned after the callers' so that stays the same.
    endings = rng.spawn(1)[0]
    ended = is_request & (endings.random(n) < cal.UNRESOLVED_REQUEST_SHARE)
    how = endings.choice(["closed_incomplete", "closed_skipped"], n)
    frame["request_ending"] = np.where(ended, how, "")
    # Business services left empty (agents skip the field), from a stream of their own too.
    blanks = rng.spawn(1)[0]
    frame.loc[blanks.random(n) < org.EMPTY_BUSINESS_SERVICE_SHARE, "business_service"] = ""
    caller = frame["caller_idx"].to_numpy()
    at_bad_site = employees["location"].to_numpy() == org.BAD_CLIENT_LOCATION
    frame["poor_device"] = (employees["model_idx"].to_numpy()[caller] == _SLOW_DISK) | (
        at_bad_site[caller] & bad_days[day_idx]
    )
    frame = frame.sort_values("opened_s", kind="stable", ignore_index=True)
    frame["number"] = [
        f"{'RITM' if r else 'INC'}{i:07d}" for i, r in enumerate(frame["is_request"], start=1)
    ]
    frame["caller_id"] = employees["employee_id"].to_numpy()[frame["caller_idx"]]
    frame["location"] = employees["location"].to_numpy()[frame["caller_idx"]]
    return frame


def _after_business_hours(opened_s: np.ndarray, hours: np.ndarray, first_day: date) -> np.ndarray:
    """Seconds from the timeline's start at which `hours` of business time have passed."""
    epoch = np.datetime64(first_day, "s")
    opened = epoch + opened_s.astype("timedelta64[s]")
    resolved = add_business_seconds(opened, np.round(hours * 3600))
    return (resolved - epoch).astype(np.int64)


def _ticket_versions(t: pd.DataFrame) -> list[tuple[int, dict]]:
    """Every (update second, record) a ticket goes through: opened, resolved, closed."""
    versions: list[tuple[int, dict]] = []
    for row in t.itertuples(index=False):
        base = {
            "sys_id": row.sys_id,
            "number": row.number,
            "sys_class_name": "sc_req_item" if row.is_request else "incident",
            "priority": row.priority,
            "contact_type": row.contact_type,
            "business_service": row.business_service,
            "assignment_group": row.assignment_group,
            "caller_id": row.caller_id,
            "location": row.location,
            "category": row.category,
        }
        versions.append(
            (row.opened_s, {**base, "_state": "opened", "reassignment_count": 0, "reopen_count": 0})
        )
        if row.canceled:
            versions.append(
                (
                    row.resolved_s,
                    {
                        **base,
                        "_state": "canceled",
                        "reassignment_count": row.reassignment_count,
                        "reopen_count": 0,
                    },
                )
            )
            continue
        done = {
            **base,
            "reassignment_count": row.reassignment_count,
            "reopen_count": row.reopen_count,
            "made_sla": bool(row.made_sla),
        }
        if row.is_request:
            state = row.request_ending or "closed_complete"
            versions.append((row.resolved_s, {**done, "_state": state}))
        else:
            versions.append((row.resolved_s, {**done, "_state": "resolved"}))
            versions.append((row.closed_s, {**done, "_state": "closed"}))
    return versions


_STATES = {
    # (incident state, request state) codes as ServiceNow stores them.
    "opened": ("1", "1"),
    "resolved": ("6", None),
    "closed": ("7", None),
    "canceled": ("8", None),
    "closed_complete": (None, "3"),
    "closed_incomplete": (None, "4"),
    "closed_skipped": (None, "7"),
}
_CLOSING_STATES = ("closed", "canceled", "closed_complete", "closed_incomplete", "closed_skipped")


def _write_itsm(writer: _Writer, tickets: pd.DataFrame, days: list[date], epoch: datetime) -> None:
    opened = dict(zip(tickets["sys_id"], tickets["opened_s"], strict=True))
    resolved = dict(zip(tickets["sys_id"], tickets["resolved_s"], strict=True))
    horizon = len(days) * SECONDS_PER_DAY
    by_day: dict[tuple[int, str], dict[str, tuple[int, dict]]] = defaultdict(dict)
    for updated_s, record in _ticket_versions(tickets):
        if updated_s >= horizon:
            continue  # this change happens after the last extract
        day = int(updated_s // SECONDS_PER_DAY)
        table = record["sys_class_name"]
        # Only the latest version of a ticket in a day reaches that day's extract.
        by_day[(day, table)][record["sys_id"]] = (updated_s, record)
    for (day_i, table), versions in sorted(by_day.items()):
        # Alternate extracts between plain values and sysparm_display_value=all objects.
        display_all = day_i % 2 == 1
        records = []
        for updated_s, record in sorted(versions.values(), key=lambda v: (v[0], v[1]["sys_id"])):
            records.append(
                _servicenow_record(record, updated_s, opened, resolved, epoch, display_all)
            )
        writer.json("itsm", days[day_i], f"{table}.json", records)


def _ts(seconds: int, epoch: datetime) -> str:
    return (epoch + timedelta(seconds=int(seconds))).strftime("%Y-%m-%d %H:%M:%S")


def _servicenow_record(
    record: dict, updated_s: int, opened: dict, resolved: dict, epoch: datetime, display_all: bool
) -> dict:
    state_name = record["_state"]
    is_request = record["sys_class_name"] == "sc_req_item"
    state = _STATES[state_name][1 if is_request else 0]
    out = {k: v for k, v in record.items() if not k.startswith("_")}
    out["opened_at"] = _ts(opened[record["sys_id"]], epoch)
    out["sys_updated_on"] = _ts(updated_s, epoch)
    out["state"] = state
    out["resolved_at"] = ""
    out["closed_at"] = ""
    if state_name in ("resolved", "closed") and not is_request:
        out["resolved_at"] = _ts(resolved[record["sys_id"]], epoch)
    if state_name in _CLOSING_STATES:
        out["closed_at"] = _ts(updated_s, epoch)
    out["made_sla"] = "true" if record.get("made_sla", True) else "false"
    out["reassignment_count"] = str(record["reassignment_count"])
    out["reopen_count"] = str(record["reopen_count"])
    if display_all:
        for key in ("business_service", "assignment_group", "caller_id", "location"):
            # ServiceNow references carry the target's sys_id as value; a stable stand-in here.
            # An empty reference is empty in both.
            ref_id = f"{zlib.crc32(out[key].encode('utf-8')):032x}" if out[key] else ""
            out[key] = {"value": ref_id, "display_value": out[key]}
        # caller_id's value is the employee id our directory keys on.
        out["caller_id"] = {
            "value": record["caller_id"],
            "display_value": f"User {record['caller_id']}",
        }
        out["priority"] = {
            "value": out["priority"],
            "display_value": _PRIORITY_LABELS[out["priority"]],
        }
    return out


_PRIORITY_LABELS = {
    "1": "1 - Critical",
    "2": "2 - High",
    "3": "3 - Moderate",
    "4": "4 - Low",
    "5": "5 - Planning",
}


_SERVICE_POSITION = {s.service_id: i for i, s in enumerate(org.SERVICES)}


def _service_positions(service_ids: pd.Series) -> np.ndarray:
    """Index of each service in org.SERVICES (integer-typed even for no rows)."""
    return service_ids.map(_SERVICE_POSITION).to_numpy(dtype=np.int64)


def _unhappy_probability(
    t: pd.DataFrame, days: list[date], chat_progress: np.ndarray
) -> np.ndarray:
    penalty = np.array([s.happiness_penalty for s in org.SERVICES])
    # The chance of a 0-6 answer (calibration: incidents near +73, requests near +80).
    p = cal.UNHAPPY_BASE + penalty[_service_positions(t["service_id"])]
    p += cal.UNHAPPY_PER_REASSIGNMENT * t["reassignment_count"].to_numpy()
    p += cal.UNHAPPY_MISSED_SLA * (~t["made_sla"].to_numpy())
    p += cal.UNHAPPY_REOPENED * (t["reopen_count"].to_numpy() > 0)
    p += org.STORM_UNHAPPY * t["in_storm"].to_numpy()
    p -= cal.UNHAPPY_REQUEST_BONUS * t["is_request"].to_numpy()
    p += np.where(t["contact_type"].to_numpy() == "phone", cal.UNHAPPY_PHONE, 0.0)
    p += np.where(
        t["contact_type"].to_numpy() == "chat", org.CHAT_START_PENALTY * (1 - chat_progress), 0
    )
    return np.clip(p, 0.01, 0.95)


def _happiness(rng: np.random.Generator, p_unhappy: np.ndarray) -> np.ndarray:
    n = p_unhappy.size
    unhappy = rng.random(n) < p_unhappy
    negative = rng.choice(np.arange(0, 7), n, p=[0.12, 0.06, 0.1, 0.14, 0.16, 0.2, 0.22])
    positive = np.where(
        rng.random(n) < cal.PROMOTER_SHARE,
        rng.choice([9, 10], n, p=[0.4, 0.6]),
        rng.choice([7, 8], n),
    )
    return np.where(unhappy, negative, positive)


def _ticket_responses(
    rng: np.random.Generator, config: GeneratorConfig, t: pd.DataFrame, days: list[date]
) -> pd.DataFrame:
    horizon = len(days) * SECONDS_PER_DAY
    done = t[~t["canceled"]].reset_index(drop=True)
    # Each service's response rate: the configured mean times a draw from the calibrated spread.
    rate = config.response_rate * rng.uniform(*cal.RESPONSE_RATE_SPREAD, len(org.SERVICES))
    answered = rng.random(len(done)) < rate[_service_positions(done["service_id"])]
    done = done[answered].reset_index(drop=True)
    responded_s = done["resolved_s"].to_numpy() + rng.exponential(8 * 3600, len(done)).astype(
        np.int64
    )
    keep = responded_s < horizon
    done = done[keep].reset_index(drop=True)
    responded_s = responded_s[keep]
    chat_progress = (done["opened_s"].to_numpy() / horizon).clip(0, 1)
    happiness = _happiness(rng, _unhappy_probability(done, days, chat_progress))
    lost = _lost_time(
        rng,
        happiness,
        done["reassignment_count"].to_numpy(),
        done["is_request"].to_numpy(),
        _device_lost_time_factor(done),
    )
    return pd.DataFrame(
        {
            "survey_type": "ticket",
            "ticket_number": done["number"],
            "topic": None,
            "responded_s": responded_s,
            "respondent_id": done["caller_id"],
            "happiness": happiness,
            "lost_time_minutes": lost,
        }
    )


def _device_lost_time_factor(t: pd.DataFrame) -> np.ndarray:
    """How much more lost time the caller reports because their device is poor (1 if it is not)."""
    hardware = t["category"].to_numpy() == "hardware"
    factor = np.where(
        hardware, org.POOR_DEVICE_HARDWARE_LOST_TIME_FACTOR, org.POOR_DEVICE_LOST_TIME_FACTOR
    )
    return np.where(t["poor_device"].to_numpy(), factor, 1.0)


def _lost_time(
    rng: np.random.Generator,
    happiness: np.ndarray,
    reassignments: np.ndarray,
    is_request: np.ndarray,
    device_factor: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Minutes lost, from a mixture of a light and a heavy log-normal; NaN when not answered.

    The heavy answers are the ~13 % of tickets that carry ~80 % of the lost time (calibration).
    `device_factor` multiplies what each respondent reports (poor devices, see organisation).
    """
    n = happiness.size
    p_heavy = (
        cal.HEAVY_BASE
        + cal.HEAVY_PER_REASSIGNMENT * reassignments
        + cal.HEAVY_IF_UNHAPPY * (happiness <= 6)
    )
    heavy = rng.random(n) < np.clip(p_heavy, 0, 1)
    median = np.where(heavy, cal.LOST_TIME_HEAVY_MEDIAN, cal.LOST_TIME_LIGHT_MEDIAN)
    sigma = np.where(heavy, cal.LOST_TIME_HEAVY_SIGMA, cal.LOST_TIME_LIGHT_SIGMA)
    median = median * np.where(is_request, cal.LOST_TIME_REQUEST_FACTOR, 1.0)
    minutes = median * np.exp(sigma * rng.normal(0, 1, n)) * device_factor
    minutes = np.round(minutes).astype(float)
    minutes[rng.random(n) >= cal.LOST_TIME_ANSWER_SHARE] = np.nan
    return minutes


def _proactive_responses(
    rng: np.random.Generator, config: GeneratorConfig, employees: pd.DataFrame, days: list[date]
) -> pd.DataFrame:
    n_months = max(1, round(len(days) / 30))
    n = int(config.employees * PROACTIVE_MONTHLY_SHARE * n_months)
    responded_s = rng.integers(0, len(days) * SECONDS_PER_DAY, n)
    who = rng.integers(0, len(employees), n)
    topic = rng.choice(org.PROACTIVE_TOPICS, n)
    slow_model = employees["model_idx"].to_numpy()[who] == _SLOW_DISK
    p_unhappy = 0.12 + 0.35 * ((topic == "laptop") & slow_model)
    happiness = _happiness(rng, p_unhappy)
    return pd.DataFrame(
        {
            "survey_type": "proactive",
            "ticket_number": None,
            "topic": topic,
            "responded_s": responded_s,
            "respondent_id": employees["employee_id"].to_numpy()[who],
            "happiness": happiness,
            "lost_time_minutes": _lost_time(rng, happiness, np.zeros(n, int), np.zeros(n, bool)),
        }
    )


_COMMENTS_POSITIVE = (
    "Quick and friendly, thanks!",
    "Solved on first call.",
    "Great help from Anna.",
)
_COMMENTS_NEGATIVE = (
    "Had to explain the issue three times.",
    "Took far too long.",
    "Still broken.",
)


def _write_surveys(
    writer: _Writer,
    responses: pd.DataFrame,
    epoch: datetime,
    rng: np.random.Generator,
    n_days: int,
) -> None:
    responses = responses.sort_values("responded_s", kind="stable", ignore_index=True)
    n = len(responses)
    happy = responses["happiness"].to_numpy() >= 7
    n_factors = rng.integers(1, 3, n)
    pos = rng.choice(org.POSITIVE_FACTORS, (n, 2))
    neg = rng.choice(org.NEGATIVE_FACTORS, (n, 2))
    factors = [
        ";".join(dict.fromkeys((pos[i] if happy[i] else neg[i])[: n_factors[i]])) for i in range(n)
    ]
    with_comment = rng.random(n) < 0.25
    comments = np.where(happy, rng.choice(_COMMENTS_POSITIVE, n), rng.choice(_COMMENTS_NEGATIVE, n))
    lang_share = np.array([lang[1] for lang in org.LANGUAGES])
    frame = pd.DataFrame(
        {
            "response_id": [f"HS{i:08d}" for i in range(1, n + 1)],
            "survey_type": responses["survey_type"],
            "ticket_number": responses["ticket_number"],
            "topic": responses["topic"],
            "responded_at": [
                s.replace(" ", "T") + "Z"
                for s in _fmt_ts(responses["responded_s"].to_numpy(), epoch)
            ],
            "respondent_id": responses["respondent_id"],
            "happiness": responses["happiness"].astype(int),
            "lost_time_minutes": responses["lost_time_minutes"].astype("Int64"),
            "factors": factors,
            "comment": np.where(with_comment, comments, None),
            "language": rng.choice([lang[0] for lang in org.LANGUAGES], n, p=lang_share),
        }
    )
    day_index = (responses["responded_s"].to_numpy() // SECONDS_PER_DAY).astype(int)
    first = epoch.date()
    # Every answer was drawn (ids, factors, comments); those the organisation does not get are
    # not written.
    written = responses["written"].to_numpy(dtype=bool)
    by_day = dict(iter(frame[written].groupby(day_index[written], sort=True)))
    # The survey tool exports every day; a day without answers is a file with its header only
    # (its extract arrived: the freshness gates ask for arrivals, not rows).
    for day_i in range(n_days):
        part = by_day.get(day_i, frame.iloc[0:0])
        writer.csv("survey", first + timedelta(days=day_i), "responses.csv", part)


def _write_devices(
    writer: _Writer, rng: np.random.Generator, employees: pd.DataFrame, days: list[date]
) -> None:
    n = len(employees)
    model_idx = employees["model_idx"].to_numpy()
    models = np.array([m[0] for m in org.DEVICE_MODELS])[model_idx]
    device_type = np.array([m[1] for m in org.DEVICE_MODELS])[model_idx]
    boot_median = np.array([m[3] for m in org.DEVICE_MODELS])[model_idx]
    slow_disk = model_idx == _SLOW_DISK
    logon_median = cal.LOGON_MEDIAN_S * np.where(slow_disk, org.SLOW_DISK_LOGON_FACTOR, 1.0)
    memory_scale = 5.0 * np.where(slow_disk, org.SLOW_DISK_MEMORY_FACTOR, 1.0)
    crash_rate = np.array([m[4] for m in org.DEVICE_MODELS])[model_idx]
    is_laptop = device_type == "laptop"
    at_bad_site = employees["location"].to_numpy() == org.BAD_CLIENT_LOCATION
    bad_days = _bad_client_days(days)
    for day_i, day in enumerate(days):
        bad_client = at_bad_site & bad_days[day_i]
        crash_factor = np.where(bad_client, org.BAD_CLIENT_CRASH_FACTOR, 1.0)
        age = day_i / 365.0
        table = pa.table(
            {
                "device_id": employees["device_id"].to_numpy(),
                "employee_id": employees["employee_id"].to_numpy(),
                "snapshot_date": pa.array([day] * n, pa.date32()),
                "device_type": device_type,
                "model": models,
                "os_version": np.where(
                    bad_client, org.BAD_CLIENT_VERSION, "Windows 11 23H2 (build 22631.4751)"
                ),
                "boot_duration_s": np.round(boot_median * np.exp(rng.normal(0, 0.35, n)), 1),
                "logon_duration_s": np.round(
                    logon_median * np.exp(rng.normal(0, cal.LOGON_SIGMA, n)), 1
                ),
                "app_crashes": rng.poisson(crash_rate * crash_factor),
                "app_freezes": rng.poisson(crash_rate * org.FREEZES_PER_CRASH * crash_factor),
                "system_crashes": rng.poisson(
                    np.full(n, cal.SYSTEM_CRASHES_PER_DEVICE_YEAR / 365) * crash_factor
                ),
                "cpu_saturation_pct": np.round(np.clip(rng.gamma(2.0, 4.0, n), 0, 100), 1),
                "memory_saturation_pct": np.round(
                    np.clip(rng.gamma(2.0, memory_scale, n), 0, 100), 1
                ),
                "disk_free_pct": np.round(
                    np.clip(
                        employees["disk_free_start"].to_numpy() - 10 * age + rng.normal(0, 1, n),
                        0,
                        100,
                    ),
                    1,
                ),
                "battery_health_pct": pa.array(
                    np.where(
                        is_laptop,
                        np.round(
                            np.clip(
                                employees["battery_start"].to_numpy()
                                - cal.BATTERY_WEAR_PER_YEAR * age,
                                0,
                                100,
                            ),
                            1,
                        ),
                        np.nan,
                    ),
                    pa.float64(),
                    from_pandas=True,
                ),
                "network_latency_ms": np.round(20 * np.exp(rng.normal(0, 0.6, n)), 1),
            }
        )
        writer.parquet("device", day, "devices.parquet", table)


def _inject_bad_rows(
    landing_dir: Path,
    days: list[date],
    fraction: float,
    rng: np.random.Generator,
    summary: GenerationSummary,
) -> None:
    """Corrupt a fraction of survey, ticket and directory rows, one kind of defect per row."""
    corrupt_landing(landing_dir, days, fraction, rng, summary.bad_rows)


SURVEY_ENCODINGS_MAPPING = (
    "# Written by `xmo generate --bad-rows`: one survey file was saved by Excel on Windows.\n"
    "# Each survey file is read as UTF-8, or else as Windows-1252.\n"
    "encoding: [utf-8, cp1252]\n"
)


def _save_a_survey_as_windows_1252(
    landing_dir: Path, mappings_dir: Path, days: list[date], summary: GenerationSummary
) -> None:
    mapping = mappings_dir / "survey.yml"
    if mapping.exists():
        log.warning("%s exists: no Windows-1252 survey file written (it might not load)", mapping)
        return
    path = save_one_survey_as_windows_1252(landing_dir, days)
    if path is None:
        return
    mappings_dir.mkdir(parents=True, exist_ok=True)
    mapping.write_text(SURVEY_ENCODINGS_MAPPING, encoding="utf-8")
    summary.other_encodings += [path, mapping]
