"""The HappySignals survey pull against a local stand-in of its API v2."""

from __future__ import annotations

import base64
import csv
import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.happysignals.client import (
    HappySignalsApi,
    HappySignalsClient,
    HappySignalsError,
    RetryPolicy,
    token_from_env,
)
from ingestion.happysignals.pull import flatten, load_watermark, pull_responses
from ingestion.loader import extract_dates, load_partitions
from ingestion.mapping import mapping_for
from ingestion.sources import SOURCES
from tests.fakes.happysignals import FakeHappySignals, Fault

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def response(n: int, updated: str, **extra) -> dict:
    """An item as the project assumes HappySignals sends it (ingestion/mappings/survey.yml)."""
    return {
        "id": f"HS{n:05d}",
        "type": "ticket",
        "ticket": f"INC{n:07d}",
        "created_at": updated,
        "updated_at": updated,
        "user_id": f"E{n:06d}",
        "rating": 8,
        "lost_time": 15,
        "factors": ["speed_of_service", "issue_solved"],
        "comment": "",
        "language": "en",
        **extra,
    }


def ten_responses() -> list[dict]:
    # Three days of answers: 2026-03-02 (n 0-3), 2026-03-03 (n 4-6), 2026-03-04 (n 7-9).
    return [response(n, f"2026-03-0{2 + (n >= 4) + (n >= 7)}T1{n}:00:00Z") for n in range(10)]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(fake: FakeHappySignals, sleeps: Sleeps | None = None, token: str | None = None):
    return HappySignalsClient(
        fake.url,
        fake.token if token is None else token,
        retry=RetryPolicy(max_attempts=4, base_delay_s=0.5),
        sleep=sleeps if sleeps is not None else Sleeps(),
    )


def pull(fake: FakeHappySignals, root: Path, sleeps: Sleeps | None = None, **kwargs):
    return pull_responses(
        client_for(fake, sleeps),
        root / "landing",
        root / "state" / "happysignals_watermark.json",
        mapping_for("survey", root / "mappings"),
        now=kwargs.pop("now", NOW),
        **kwargs,
    )


def landed(root: Path) -> dict[str, list[str]]:
    """Response ids per landed day file."""
    out = {}
    for path in sorted((root / "landing").glob("survey/*/happysignals.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            out[path.parent.name] = [row["id"] for row in csv.DictReader(handle)]
    return out


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def load(root: Path):
    landing = root / "landing"
    return list(
        load_partitions(
            root / "wh.duckdb",
            landing,
            SOURCES["survey"],
            extract_dates(landing),
            root / "mappings",
        )
    )


def query(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_pull_pages_to_the_end_and_lands_every_response_once_in_its_day(tmp_path):
    with FakeHappySignals(ten_responses()) as fake:
        result = pull(fake, tmp_path)

    assert result.records == 10
    assert len(fake.requests) == 3  # 10 responses at 4 per page, to meta.pages
    assert [dict(p.split("=") for p in r.split("?")[1].split("&")) for r in fake.requests] == [
        {"page": "1"},  # a first pull asks for everything
        {"page": "2"},
        {"page": "3"},
    ]
    assert landed(tmp_path) == {
        "2026-03-02": ["HS00000", "HS00001", "HS00002", "HS00003"],
        "2026-03-03": ["HS00004", "HS00005", "HS00006"],
        "2026-03-04": ["HS00007", "HS00008", "HS00009"],
    }
    assert result.watermark == "2026-03-04T19:00:00Z"
    assert load_watermark(tmp_path / "state/happysignals_watermark.json", "responses") == (
        datetime(2026, 3, 4, 19, tzinfo=UTC)
    )
    # The landed files load through the default survey mapping like any survey export.
    loads = load(tmp_path)
    assert sum(x.loaded for x in loads) == 10 and sum(x.quarantined for x in loads) == 0
    assert query(
        tmp_path,
        "SELECT response_id, survey_type, ticket_number, respondent_id, happiness, "
        "lost_time_minutes, factors FROM raw.survey_responses WHERE response_id = 'HS00004'",
    ) == [("HS00004", "ticket", "INC0000004", "E000004", 8, 15, "speed_of_service;issue_solved")]


def test_nested_objects_are_flattened_and_lists_joined():
    item = {"id": 1, "ticket": {"number": "INC1", "service": {"name": "Email"}}, "factors": []}
    item |= {"rating": 7.0, "anonymous": True, "lost_time": None, "tags": [{"a": 1}]}
    assert flatten(item) == {
        "id": "1",
        "ticket.number": "INC1",
        "ticket.service.name": "Email",
        "factors": "",
        "rating": "7",
        "anonymous": "true",
        "lost_time": "",
        "tags": '[{"a": 1}]',
    }


def test_a_429_waits_at_least_retry_after_and_a_5xx_burst_backs_off(tmp_path):
    sleeps = Sleeps()
    faults = {2: Fault(429, {"Retry-After": "7"}), 3: Fault(503), 4: Fault(502)}
    with FakeHappySignals(ten_responses(), faults=faults) as fake:
        result = pull(fake, tmp_path, sleeps)

    assert result.records == 10 and sum(len(ids) for ids in landed(tmp_path).values()) == 10
    # Page 2: 429 (wait ≥ Retry-After), then 503 and 502 (exponential 1 s, 2 s), then served.
    assert sleeps == [7.0, 1.0, 2.0]
    assert len(fake.requests) == 6


def test_a_wrong_token_is_one_clear_error_naming_the_setting_without_showing_it(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    wrong = "wr0ng-Token-9xq"
    with FakeHappySignals(ten_responses()) as fake:
        client = client_for(fake, sleeps, token=wrong)
        with pytest.raises(HappySignalsError) as error:
            pull_responses(
                client,
                tmp_path / "landing",
                tmp_path / "state.json",
                mapping_for("survey"),
            )

    message = str(error.value)
    assert "HTTP 401" in message and "XMO_HAPPYSIGNALS_TOKEN" in message
    assert "\n" not in message and not error.value.transient
    assert len(fake.requests) == 1 and fake.refused == 1 and sleeps == []  # no retry storm
    for secret in (wrong, base64.b64encode(wrong.encode()).decode()):
        assert secret not in message and secret not in caplog.text
    assert not (tmp_path / "landing").exists() and not (tmp_path / "state.json").exists()


def test_the_token_is_sent_base64_encoded_and_never_reaches_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeHappySignals(ten_responses(), faults={1: Fault(500)}) as fake:
        pull(fake, tmp_path)
        plain = HappySignalsClient(
            fake.url, fake.token, api=HappySignalsApi(token_encoding="plain"), sleep=Sleeps()
        )
        with pytest.raises(HappySignalsError, match="XMO_HAPPYSIGNALS_TOKEN_ENCODING=plain"):
            list(plain.iter_items())

    assert fake.refused == 1  # the plain token is refused by a server that wants base64
    encoded = base64.b64encode(fake.token.encode()).decode()
    assert fake.token not in caplog.text and encoded not in caplog.text
    assert fake.token not in repr(plain.api.auth)
    with pytest.raises(HappySignalsError, match="set XMO_HAPPYSIGNALS_TOKEN"):
        token_from_env({})
    assert token_from_env({"XMO_HAPPYSIGNALS_TOKEN": "t"}) == "t"


def test_a_response_that_breaks_the_contract_lands_and_is_quarantined_alone(tmp_path):
    items = ten_responses()
    items[5]["rating"] = 11
    with FakeHappySignals(items) as fake:
        result = pull(fake, tmp_path)

    assert result.records == 10 and "HS00005" in landed(tmp_path)["2026-03-03"]
    loads = {x.extract_date: x for x in load(tmp_path)}
    day = loads[date(2026, 3, 3)]
    assert (day.rows_read, day.loaded, day.quarantined) == (3, 2, 1)
    [(reason, record)] = query(tmp_path, "SELECT reason, raw_record FROM raw.quarantine_survey")
    assert "happiness" in reason and json.loads(record)["id"] == "HS00005"
    assert sum(x.loaded for x in loads.values()) == 9


def test_the_next_pull_asks_from_the_watermark_and_lands_nothing_twice(tmp_path):
    items = ten_responses()
    with FakeHappySignals(items) as fake:
        first = pull(fake, tmp_path)
        # Later: HS00007 is re-rated the same day, HS00001 two days on, and a new response
        # arrives. HS00009 (19:00, the watermark) is read again by the overlap.
        items[7] |= {"rating": 3, "updated_at": "2026-03-04T20:00:00Z"}
        items[1] |= {"rating": 10, "updated_at": "2026-03-04T21:00:00Z"}
        items.append(response(10, "2026-03-05T08:00:00Z"))
        requests_before = len(fake.requests)
        second = pull(fake, tmp_path)
        query_string = fake.requests[requests_before].split("?")[1]

    assert first.watermark == "2026-03-04T19:00:00Z"
    assert "updated_at__gte=2026-03-04T18%3A55%3A00Z" in query_string  # 5 minutes early
    assert second.records == 4  # HS00001, HS00007, HS00009 again, HS00010
    assert second.watermark == "2026-03-05T08:00:00Z"
    days = landed(tmp_path)
    # Each response once per day file, in the order it last changed.
    assert days["2026-03-04"] == ["HS00008", "HS00009", "HS00007", "HS00001"]
    assert days["2026-03-05"] == ["HS00010"]
    assert days["2026-03-02"] == ["HS00000", "HS00001", "HS00002", "HS00003"]  # the old answer
    with (tmp_path / "landing/survey/2026-03-04/happysignals.csv").open() as handle:
        ratings = {row["id"]: row["rating"] for row in csv.DictReader(handle)}
    assert ratings["HS00007"] == "3" and ratings["HS00001"] == "10"
    # Staging keeps the latest extract's copy; raw holds every extract once.
    load(tmp_path)
    assert query(
        tmp_path,
        "SELECT _extract_date::VARCHAR, happiness FROM raw.survey_responses "
        "WHERE response_id = 'HS00001' ORDER BY 1",
    ) == [("2026-03-02", 8), ("2026-03-04", 10)]

    # Pulling again with nothing new changes no file, and the watermark stays.
    before = snapshot(tmp_path / "landing")
    with FakeHappySignals(items) as fake:
        third = pull(fake, tmp_path)
    assert third.files == [] and third.records == 1  # only the overlap, landed already
    assert snapshot(tmp_path / "landing") == before
    assert third.watermark == second.watermark


def test_a_pull_that_fails_midway_leaves_landing_and_the_watermark_as_they_were(tmp_path):
    items = ten_responses()
    with FakeHappySignals(items) as fake:
        pull(fake, tmp_path)
    state = tmp_path / "state/happysignals_watermark.json"
    before_landing, before_state = snapshot(tmp_path / "landing"), state.read_bytes()

    items[2] |= {"rating": 0, "updated_at": "2026-03-05T09:00:00Z"}
    items += [response(n, f"2026-03-05T1{n - 10}:00:00Z") for n in range(10, 19)]
    sleeps = Sleeps()
    with FakeHappySignals(items, dead_after=2) as fake:  # answers two pages, then dies
        with pytest.raises(HappySignalsError, match="unreachable") as error:
            pull(fake, tmp_path, sleeps)

    assert error.value.transient  # the scheduler may try again later
    assert len(sleeps) == 3  # page 3 was retried with backoff before giving up
    assert snapshot(tmp_path / "landing") == before_landing
    assert state.read_bytes() == before_state
    assert not list((tmp_path / "landing").rglob(".*.tmp"))


def test_an_organisation_whose_fields_differ_overrides_only_those_in_its_mapping(tmp_path):
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings/survey.yml").write_text(
        "columns:\n  uuid: response_id\n  score: happiness\n"
    )
    items = []
    for n in range(3):
        item = response(n, f"2026-03-02T1{n}:00:00Z", uuid=f"U{n}", score=9)
        del item["id"], item["rating"]
        items.append(item)
    with FakeHappySignals(items) as fake:
        pull(fake, tmp_path)
        items[0] |= {"score": 2, "updated_at": "2026-03-02T18:00:00Z"}  # the same day, later
        pull(fake, tmp_path)

    with (tmp_path / "landing/survey/2026-03-02/happysignals.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["uuid"], row["score"]) for row in rows] == [("U1", "9"), ("U2", "9"), ("U0", "2")]
    loads = load(tmp_path)
    assert (loads[0].loaded, loads[0].quarantined) == (3, 0)
    assert query(
        tmp_path, "SELECT response_id, happiness FROM raw.survey_responses ORDER BY 1"
    ) == [
        ("U0", 2),
        ("U1", 9),
        ("U2", 9),
    ]


def test_an_empty_answer_writes_nothing_and_keeps_no_watermark(tmp_path):
    with FakeHappySignals([]) as fake:
        result = pull(fake, tmp_path, since=datetime(2026, 3, 1, tzinfo=UTC))
    assert (result.records, result.files, result.watermark) == (0, [], None)
    assert (
        len(fake.requests) == 1 and "updated_at__gte=2026-02-28T23%3A55%3A00Z" in fake.requests[0]
    )
    assert not (tmp_path / "landing").exists()
    assert not (tmp_path / "state").exists()


def test_a_watermark_never_passes_the_moment_the_pull_started(tmp_path):
    # A clock ahead on the server (or an answer changed while the pull paged) must not make the
    # next pull skip what changed after this one began.
    with FakeHappySignals(ten_responses()) as fake:
        result = pull(fake, tmp_path, now=datetime(2026, 3, 4, 12, tzinfo=UTC))
    assert result.watermark == "2026-03-04T12:00:00Z"


def test_an_answer_that_is_not_the_envelope_names_the_settings_to_check(tmp_path):
    with FakeHappySignals(ten_responses(), endpoint="surveys") as fake:
        with pytest.raises(HappySignalsError, match="HTTP 404"):
            list(client_for(fake).iter_items())
    with FakeHappySignals(ten_responses(), envelope=False) as fake:
        with pytest.raises(HappySignalsError, match="not the meta/items envelope") as error:
            list(client_for(fake).iter_items())
    assert "XMO_HAPPYSIGNALS_ENDPOINT" in str(error.value)
