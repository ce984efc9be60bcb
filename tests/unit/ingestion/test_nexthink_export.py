"""The Nexthink pull through the NQL export API, against local stand-ins of the API and of the
host of its results files (S3 in real life): real HTTP on 127.0.0.1, two origins."""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import logging
import time
from datetime import date
from pathlib import Path

import pytest

from ingestion.loader import load_partitions
from ingestion.nexthink import NexthinkClient, NexthinkError, device_landing_path, pull_device_days
from ingestion.nexthink.client import ExecuteRowLimitError, RetryPolicy, settings_from_env
from ingestion.sources import SOURCES
from orchestration.settings import Settings, SettingsError
from tests.fakes.nexthink import FakeFileHost, FakeNexthink, Fault, results_csv
from tests.unit.ingestion.test_nexthink_pull import NQL_HEADERS, device_row, eight_devices

DAY = date(2026, 3, 3)


class FakeTime:
    """An injected clock that the injected sleep moves forward: waits take no time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def client_for(fake: FakeNexthink, time_: FakeTime | None = None, **kwargs) -> NexthinkClient:
    settings = settings_from_env(
        {
            "XMO_NEXTHINK_URL": fake.url,
            "XMO_NEXTHINK_TOKEN_URL": fake.token_url,
            "XMO_NEXTHINK_CLIENT_ID": fake.client_id,
            "XMO_NEXTHINK_CLIENT_SECRET": fake.client_secret,
            **kwargs.pop("env", {}),
        }
    )
    time_ = time_ or FakeTime()
    return NexthinkClient.from_settings(
        settings,
        retry=RetryPolicy(max_attempts=4, base_delay_s=0.5),
        sleep=time_.sleep,
        clock=time_.clock,
        **kwargs,
    )


def devices(count: int) -> list[list]:
    return [device_row(n, "laptop" if n % 4 else "desktop") for n in range(1, count + 1)]


def landed(landing: Path, day: date = DAY) -> list[dict[str, str]]:
    with device_landing_path(landing, day).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def day_folder(landing: Path, day: date = DAY) -> list[str]:
    return sorted(p.name for p in device_landing_path(landing, day).parent.iterdir())


def no_authorization_reached(host: FakeFileHost) -> bool:
    return bool(host.requests) and not any(
        name.lower() == "authorization" for r in host.requests for name in r["headers"]
    )


def test_an_export_lands_exactly_the_file_execute_lands_and_it_loads(tmp_path):
    rows = [
        *eight_devices(),
        ["D000099", "E000099", "laptop", 'Model "X", 14"', *device_row(9)[4:]],
    ]
    with FakeFileHost() as host, FakeNexthink(NQL_HEADERS, rows, file_host=host) as fake:
        by_execute = pull_device_days(client_for(fake), tmp_path / "execute", DAY)
        time_ = FakeTime()
        result = pull_device_days(
            client_for(fake, time_), tmp_path / "export", DAY, method="export"
        )

    execute_file = device_landing_path(tmp_path / "execute", DAY).read_bytes()
    assert device_landing_path(tmp_path / "export", DAY).read_bytes() == execute_file
    assert (by_execute.method, by_execute.export_id) == ("execute", None)
    assert (result.method, result.export_id, result.rows) == ("export", "exp-0001-9f2c", 9)
    assert result.headers == by_execute.headers and result.files == [result.file]
    assert day_folder(tmp_path / "export") == ["nexthink.csv"]  # no download or temp file left
    # One export, asked for gzip, polled SUBMITTED -> IN_PROGRESS -> COMPLETED with growing
    # waits; one execute request only (the first pull's).
    assert fake.exports == [{"queryId": "#xmo_device_day", "compression": "GZIP"}]
    assert fake.status_requests == ["exp-0001-9f2c"] * 3
    assert time_.sleeps == [2.0, 3.0]
    assert len(fake.requests) == 1
    assert [r["path"] for r in host.requests] == ["/exports/exp-0001-9f2c.csv.gz"]
    assert no_authorization_reached(host)

    (loaded,) = load_partitions(
        tmp_path / "wh.duckdb", tmp_path / "export", SOURCES["device"], [DAY]
    )
    assert (loaded.rows_read, loaded.loaded, loaded.quarantined) == (9, 9, 0)


def test_auto_runs_the_export_when_execute_answers_its_row_limit(tmp_path):
    estate = devices(1500)
    with FakeFileHost() as host, FakeNexthink(NQL_HEADERS, estate, file_host=host) as fake:
        result = pull_device_days(
            client_for(fake),
            tmp_path / "landing",
            DAY,
            method="auto",
            parameters={"day": DAY.isoformat()},
        )
        assert len(fake.requests) == 1 and len(fake.exports) == 1  # execute capped, then export
        assert fake.exports[0]["parameters"] == {"day": "2026-03-03"}  # as execute was asked
        assert fake.requests[0]["body"]["parameters"] == {"day": "2026-03-03"}

        small = FakeNexthink(NQL_HEADERS, eight_devices(), file_host=host)
        with small:
            quiet = pull_device_days(client_for(small), tmp_path / "small", DAY, method="auto")
        assert small.exports == [] and quiet.method == "execute" and quiet.rows == 8

        with pytest.raises(ExecuteRowLimitError, match="returned 1000 rows") as error:
            pull_device_days(client_for(fake), tmp_path / "capped", DAY, method="execute")
    assert "XMO_NEXTHINK_METHOD" in str(error.value) and not error.value.transient
    assert len(fake.exports) == 1  # `execute` never exports
    assert not (tmp_path / "capped").exists()

    assert (result.method, result.rows) == ("export", 1500)
    rows = landed(tmp_path / "landing")
    assert len(rows) == 1500 and rows[-1]["device.name"] == "D001500"
    assert {r["snapshot_date"] for r in rows} == {"2026-03-03"}


def test_an_export_in_error_fails_with_nexthinks_description_and_lands_nothing(tmp_path):
    landing = tmp_path / "landing"
    with FakeFileHost() as host, FakeNexthink(NQL_HEADERS, eight_devices(), file_host=host) as fake:
        pull_device_days(client_for(fake), landing, DAY)  # the day as landed before
        path = device_landing_path(landing, DAY)
        before = (path.read_bytes(), path.stat().st_mtime_ns)
        fake.export_outcome = "ERROR"
        with pytest.raises(NexthinkError) as error:
            pull_device_days(client_for(fake), landing, DAY, method="export")
        with pytest.raises(NexthinkError):
            pull_device_days(client_for(fake), landing, date(2026, 3, 2), method="export")

    message = str(error.value)
    assert fake.export_error in message and "exp-0001-9f2c" in message
    assert "nothing was landed" in message and not error.value.transient
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert day_folder(landing) == ["nexthink.csv"]
    assert sorted(p.name for p in (landing / "device").iterdir()) == ["2026-03-03"]
    assert host.requests == []


def test_a_206_cut_at_the_licence_maximum_is_refused_and_nothing_is_landed(tmp_path):
    with (
        FakeFileHost() as host,
        FakeNexthink(
            NQL_HEADERS, eight_devices(), file_host=host, export_outcome="PARTIAL"
        ) as fake,
    ):
        with pytest.raises(NexthinkError) as error:
            pull_device_days(client_for(fake), tmp_path / "landing", DAY, method="export")
    message = str(error.value)
    assert "HTTP 206" in message and "licence" in message and "nothing was landed" in message
    assert not error.value.transient
    assert host.requests == []  # the cut file is never downloaded
    assert not (tmp_path / "landing").exists()


def test_the_wait_for_an_export_is_bounded_by_the_setting(tmp_path):
    time_ = FakeTime()
    with (
        FakeFileHost() as host,
        FakeNexthink(
            NQL_HEADERS, eight_devices(), file_host=host, export_outcome="IN_PROGRESS"
        ) as fake,
    ):
        client = client_for(fake, time_, env={"XMO_NEXTHINK_EXPORT_TIMEOUT_S": "60"})
        with pytest.raises(NexthinkError) as error:
            pull_device_days(client, tmp_path / "landing", DAY, method="export")

    message = str(error.value)
    assert "still IN_PROGRESS after 60 s" in message and "XMO_NEXTHINK_EXPORT_TIMEOUT_S" in message
    assert error.value.transient  # a slow export may complete when tried later
    # Waits grow by half from 2 s, the last one cut to the deadline: 60 s in all, not more.
    assert time_.sleeps == pytest.approx([2.0, 3.0, 4.5, 6.75, 10.125, 15.1875, 18.4375])
    assert sum(time_.sleeps) == pytest.approx(60.0)
    assert len(fake.status_requests) == len(time_.sleeps) + 1
    assert host.requests == [] and not (tmp_path / "landing").exists()

    long_wait = FakeTime()
    with (
        FakeFileHost() as host,
        FakeNexthink(
            NQL_HEADERS, eight_devices(), file_host=host, export_outcome="IN_PROGRESS"
        ) as fake,
    ):
        client = client_for(fake, long_wait, export_timeout_s=300)
        with pytest.raises(NexthinkError, match="after 300 s"):
            pull_device_days(client, tmp_path / "landing", DAY, method="export")
    assert max(long_wait.sleeps) == 30.0  # the interval's cap
    assert sum(long_wait.sleeps) == pytest.approx(300.0)


@pytest.mark.parametrize("compression", ["gzip", "zip", "none"])
def test_gzip_zip_and_plain_results_files_land_the_same_file(tmp_path, compression):
    with (
        FakeFileHost() as host,
        FakeNexthink(
            NQL_HEADERS, eight_devices(), file_host=host, results_compression=compression
        ) as fake,
    ):
        pull_device_days(client_for(fake), tmp_path / "execute", DAY)
        pull_device_days(client_for(fake), tmp_path / "export", DAY, method="export")
    served = host.files[host.requests[0]["path"]]
    magic = {"gzip": b"\x1f\x8b", "zip": b"PK\x03\x04", "none": b"devi"}[compression]
    assert served.startswith(magic)
    expected = device_landing_path(tmp_path / "execute", DAY).read_bytes()
    assert device_landing_path(tmp_path / "export", DAY).read_bytes() == expected


def test_a_results_file_with_a_bom_and_its_own_snapshot_date_is_landed_as_delivered(tmp_path):
    headers = [*NQL_HEADERS, "snapshot_date"]
    rows = [[*row, "2026-03-03"] for row in eight_devices()]
    content = b"\xef\xbb\xbf" + results_csv(headers, rows) + b"\r\n"  # BOM, trailing blank line
    with (
        FakeFileHost() as host,
        FakeNexthink(headers, rows, file_host=host, results_file=gzip.compress(content)) as fake,
    ):
        result = pull_device_days(client_for(fake), tmp_path / "landing", DAY, method="export")
    assert result.rows == 8 and result.headers == tuple(headers)  # no second snapshot_date
    assert list(landed(tmp_path / "landing")[0]) == headers


def test_a_429_with_retry_after_while_polling_is_waited_out(tmp_path):
    time_ = FakeTime()
    with (
        FakeFileHost() as host,
        FakeNexthink(
            NQL_HEADERS,
            eight_devices(),
            file_host=host,
            status_faults={2: Fault(429, {"Retry-After": "7"}), 3: Fault(503)},
        ) as fake,
    ):
        result = pull_device_days(
            client_for(fake, time_), tmp_path / "landing", DAY, method="export"
        )
    assert result.rows == 8
    # Poll 1 SUBMITTED, wait 2 s; poll 2 answered 429: at least Retry-After (7 s) then 503:
    # backoff (1 s); then IN_PROGRESS, wait 3 s; then COMPLETED.
    assert time_.sleeps == [2.0, 7.0, 1.0, 3.0]
    assert len(fake.status_requests) == 5 and len(fake.token_requests) == 1


def test_the_results_file_host_never_gets_the_token_and_its_errors_are_retried(
    tmp_path, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    # Even credentials ~/.netrc holds for the file host stay at home: the pre-signed URL is the
    # only credential (S3 refuses a request with two).
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password Netrc-S3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    time_ = FakeTime()
    host = FakeFileHost(faults={1: Fault(503, {"Retry-After": "4"}), 2: Fault(500)})
    with host, FakeNexthink(NQL_HEADERS, eight_devices(), file_host=host) as fake:
        result = pull_device_days(
            client_for(fake, time_), tmp_path / "landing", DAY, method="export"
        )

    assert result.rows == 8
    assert len(host.requests) == 3 and no_authorization_reached(host)
    assert time_.sleeps == [2.0, 3.0, 4.0, 1.0]  # polls, then Retry-After 4 s, then backoff 1 s
    assert all(r["path"] == "/exports/exp-0001-9f2c.csv.gz" for r in host.requests)
    # The status polls carried the token; our logs never show it nor the URL's signature
    # (urllib3's own DEBUG lines show request lines: keep it above DEBUG in production).
    assert fake.refused == 0
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("ingestion"))
    assert "/exports/exp-0001-9f2c.csv.gz" in ours and host.signature not in ours
    assert fake.issued and not [token for token in fake.issued if token in caplog.text]


def test_a_download_broken_off_half_way_starts_again_and_lands_the_whole_file(tmp_path):
    time_ = FakeTime()
    host = FakeFileHost(cut_off=2)
    with (
        host,
        FakeNexthink(
            NQL_HEADERS, devices(5000), file_host=host, results_compression="none"
        ) as fake,
    ):
        result = pull_device_days(
            client_for(fake, time_), tmp_path / "landing", DAY, method="export"
        )
        assert result.rows == 5000 and len(host.requests) == 3
        assert time_.sleeps == [2.0, 3.0, 0.5, 1.0]  # polls, then the restarts' backoff

        host.cut_off = 10
        with pytest.raises(NexthinkError, match="download broken off 4 times") as error:
            pull_device_days(client_for(fake), tmp_path / "other", DAY, method="export")
    assert error.value.transient and not (tmp_path / "other").exists()
    assert day_folder(tmp_path / "landing") == ["nexthink.csv"]


def test_an_expired_results_url_fails_naming_it_without_its_signature(tmp_path):
    host = FakeFileHost(expired=True)
    with host, FakeNexthink(NQL_HEADERS, eight_devices(), file_host=host) as fake:
        with pytest.raises(NexthinkError) as error:
            pull_device_days(client_for(fake), tmp_path / "landing", DAY, method="export")
    message = str(error.value)
    assert "HTTP 403" in message and "resultsFileUrl" in message and "pre-signed" in message
    assert "X-Amz-Signature" not in message and host.signature not in message
    assert len(host.requests) == 1 and not error.value.transient  # a refusal is not retried
    assert not (tmp_path / "landing").exists()


def test_a_results_file_lacking_a_required_column_is_refused_before_landing(tmp_path):
    landing = tmp_path / "landing"
    headers = [h for h in NQL_HEADERS if h != "device.hardware.type"]
    rows = [row[:2] + row[3:] for row in eight_devices()]
    with FakeFileHost() as host, FakeNexthink(headers, rows, file_host=host) as fake:
        with pytest.raises(NexthinkError, match=r"lacks the device column\(s\) device_type"):
            pull_device_days(client_for(fake), landing, DAY, method="export")
        assert len(host.requests) == 1  # downloaded, read, refused
        assert not landing.exists()  # not even the day's folder is left behind

        fake.headers, fake.data = NQL_HEADERS, eight_devices()
        pull_device_days(client_for(fake), landing, DAY, method="export")
        before = device_landing_path(landing, DAY).read_bytes()
        fake.headers, fake.data = headers, rows
        with pytest.raises(NexthinkError, match="device_type"):
            pull_device_days(client_for(fake), landing, DAY, method="export")
    assert device_landing_path(landing, DAY).read_bytes() == before
    assert day_folder(landing) == ["nexthink.csv"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "no header line"),
        (gzip.compress(results_csv(NQL_HEADERS, eight_devices()))[:-12], "EOFError"),
        ("device.name\nD\xe9\n".encode("latin-1"), "not.*UTF-8|cannot be read as UTF-8"),
        (b"\x28\xb5\x2f\xfd\x00\x00", "Zstandard"),
    ],
    ids=["empty", "truncated_gzip", "latin1", "zstd"],
)
def test_an_unreadable_results_file_is_one_error_and_nothing_is_landed(tmp_path, content, reason):
    with (
        FakeFileHost() as host,
        FakeNexthink(NQL_HEADERS, eight_devices(), file_host=host, results_file=content) as fake,
    ):
        with pytest.raises(NexthinkError, match=reason):
            pull_device_days(client_for(fake), tmp_path / "landing", DAY, method="export")
    assert not (tmp_path / "landing").exists()


def test_a_zip_of_several_files_is_refused(tmp_path):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("part-1.csv", results_csv(NQL_HEADERS, eight_devices()[:4]))
        archive.writestr("part-2.csv", results_csv(NQL_HEADERS, eight_devices()[4:]))
    with (
        FakeFileHost() as host,
        FakeNexthink(
            NQL_HEADERS, eight_devices(), file_host=host, results_file=buffer.getvalue()
        ) as fake,
    ):
        with pytest.raises(NexthinkError, match=r"zip of 2 files \(part-1.csv, part-2.csv\)"):
            pull_device_days(client_for(fake), tmp_path / "landing", DAY, method="export")


def test_200000_devices_stream_through_the_export(tmp_path):
    estate = devices(200_000)
    content = gzip.compress(results_csv(NQL_HEADERS, estate), compresslevel=1)
    started = time.perf_counter()
    with (
        FakeFileHost() as host,
        FakeNexthink(
            NQL_HEADERS, estate[:10], file_host=host, results_file=content, export_pending=[]
        ) as fake,
    ):
        result = pull_device_days(client_for(fake), tmp_path / "landing", DAY, method="export")
    elapsed = time.perf_counter() - started
    assert result.rows == 200_000
    path = device_landing_path(tmp_path / "landing", DAY)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        count = 0
        last = None
        for last in reader:  # noqa: B007
            count += 1
    assert header[-1] == "snapshot_date" and count == 200_000
    assert last is not None and last[0] == "D200000" and last[-1] == "2026-03-03"
    assert elapsed < 30  # ~3 s here; the memory figures are benchmarks/nexthink_export_memory.py


def test_the_method_and_the_wait_are_settings_named_when_wrong(tmp_path):
    env = {
        "XMO_NEXTHINK_URL": "https://acme.api.eu.nexthink.cloud",
        "XMO_NEXTHINK_CLIENT_ID": "c",
        "XMO_NEXTHINK_CLIENT_SECRET": "s3cr3t-Value",
    }
    defaults = settings_from_env(env)
    assert (defaults.method, defaults.export_timeout_s) == ("auto", 1800.0)
    custom = settings_from_env(
        env | {"XMO_NEXTHINK_METHOD": "Export", "XMO_NEXTHINK_EXPORT_TIMEOUT_S": "90"}
    )
    assert (custom.method, custom.export_timeout_s) == ("export", 90.0)
    with pytest.raises(NexthinkError, match="XMO_NEXTHINK_METHOD: 'bulk' is not one of auto, "):
        settings_from_env(env | {"XMO_NEXTHINK_METHOD": "bulk"})
    with pytest.raises(NexthinkError, match="XMO_NEXTHINK_EXPORT_TIMEOUT_S"):
        settings_from_env(env | {"XMO_NEXTHINK_EXPORT_TIMEOUT_S": "0"})

    base = {"XMO_DATA_DIR": str(tmp_path)}
    settings = Settings.from_env(base)
    assert (settings.nexthink_method, settings.nexthink_export_timeout_s) == ("auto", 1800)
    settings = Settings.from_env(
        base | {"XMO_NEXTHINK_METHOD": "EXECUTE", "XMO_NEXTHINK_EXPORT_TIMEOUT_S": "600"}
    )
    assert (settings.nexthink_method, settings.nexthink_export_timeout_s) == ("execute", 600)
    with pytest.raises(
        SettingsError, match="XMO_NEXTHINK_METHOD='bulk' is not auto, execute or export"
    ):
        Settings.from_env(base | {"XMO_NEXTHINK_METHOD": "bulk"})
    with pytest.raises(SettingsError, match="XMO_NEXTHINK_EXPORT_TIMEOUT_S='soon'"):
        Settings.from_env(base | {"XMO_NEXTHINK_EXPORT_TIMEOUT_S": "soon"})


def test_the_settings_reach_the_pull_and_the_cli_says_which_method_ran(
    tmp_path, monkeypatch, capsys
):
    from orchestration.assets.nexthink import nexthink_settings, run_nexthink_pull, yesterday
    from orchestration.cli import pull_nexthink

    with (
        FakeFileHost() as host,
        FakeNexthink(NQL_HEADERS, eight_devices(), file_host=host, export_pending=[]) as fake,
    ):
        env = {
            "XMO_DATA_DIR": str(tmp_path / "data"),
            "XMO_NEXTHINK_URL": fake.url,
            "XMO_NEXTHINK_TOKEN_URL": fake.token_url,
            "XMO_NEXTHINK_METHOD": "export",
            "XMO_NEXTHINK_EXPORT_TIMEOUT_S": "90",
        }
        settings = Settings.from_env(env)
        secrets = {
            "XMO_NEXTHINK_CLIENT_ID": fake.client_id,
            "XMO_NEXTHINK_CLIENT_SECRET": fake.client_secret,
        }
        connection = nexthink_settings(settings, secrets)
        assert (connection.method, connection.export_timeout_s) == ("export", 90.0)
        (result,), requests = run_nexthink_pull(settings, connection, [DAY])
        assert (result.method, result.export_id, result.rows) == ("export", "exp-0001-9f2c", 8)
        assert requests == 3  # export, one status poll, the file
        assert fake.requests == []  # `export` never runs execute

        for name, value in secrets.items():
            monkeypatch.setenv(name, value)
        args = argparse.Namespace(since=None, days=[])
        assert pull_nexthink(args, settings) == 0
    out = capsys.readouterr().out
    assert f"device/{yesterday().isoformat()}/nexthink.csv (8 rows) via export exp-0002" in out
    assert "Method: export (XMO_NEXTHINK_METHOD=export)" in out


def test_the_dagster_asset_reports_the_export_in_its_metadata(tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.assets.nexthink import nexthink_pull, yesterday
    from orchestration.resources import XmoDataDir

    for name in ("QUERY_ID", "API_VERSION", "DAY_PARAMETER", "EXPORT_TIMEOUT_S"):
        monkeypatch.delenv(f"XMO_NEXTHINK_{name}", raising=False)
    with (
        FakeFileHost() as host,
        FakeNexthink(NQL_HEADERS, devices(1200), file_host=host, export_pending=[]) as fake,
    ):
        monkeypatch.setenv("XMO_NEXTHINK_URL", fake.url)
        monkeypatch.setenv("XMO_NEXTHINK_TOKEN_URL", fake.token_url)
        monkeypatch.setenv("XMO_NEXTHINK_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("XMO_NEXTHINK_CLIENT_SECRET", fake.client_secret)
        monkeypatch.setenv("XMO_NEXTHINK_METHOD", "auto")
        result = dg.materialize(
            [nexthink_pull], resources={"xmo": XmoDataDir(data_dir=str(tmp_path / "data"))}
        )
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata == {
        "records": 1200,
        "files_written": 1,
        "days": yesterday().isoformat(),
        "requests": 4,  # execute (capped at 1,000), export, one status poll, the file
        "query_id": "#xmo_device_day",
        "method": "export",
        "export_id": "exp-0001-9f2c",
    }
