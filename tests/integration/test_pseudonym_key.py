"""Pseudonyms that hold: each installation's own secret key, kept out of everything published.

A small organisation runs through `xmo run --all` on a fresh data dir, as `make demo` does. Then
the published pseudonyms resist a dictionary attack with every public salt; the key file is
private and appears in no published file, log, Dagster event or dbt artifact; nothing published
holds an employee id or a comment; a warehouse built with the old public default, or with
another key, stops the run with how to rebuild; and rotating the key rebuilds every pseudonym.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.pseudonym_key import PUBLIC_SALTS, key_path, pseudonym
from orchestration.cli import main
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings
from tests.integration.warehouse import query

pytestmark = pytest.mark.integration

START = date(2026, 3, 2)
DAYS = 21
ORGANISATION = ["--employees", "300", "--days", str(DAYS), "--start", str(START), "--seed", "9"]
LAST_DAY = START + timedelta(days=DAYS - 1)
EMPLOYEE_ID = re.compile(rb"E\d{6}")
# Free text of the generated answers (ingestion/synthetic/generator.py) and its display names.
COMMENTS = (b"Quick and friendly", b"Had to explain the issue", b"Great help from Anna")


def _xmo(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def installation(tmp_path_factory) -> Iterator[tuple[Settings, float]]:
    data_dir = tmp_path_factory.mktemp("pseudonyms") / "data"
    saved = dict(os.environ)
    os.environ.pop("XMO_PSEUDONYM_SALT", None)
    os.environ["XMO_DATA_DIR"] = str(data_dir)
    started = time.time()
    try:
        assert _xmo("generate", *ORGANISATION)[0] == 0
        code, out, _ = _xmo("run", "--all")
        assert code == 0, out[-3000:]
        yield Settings.from_env({"XMO_DATA_DIR": str(data_dir)}), started
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _published_keys(settings: Settings) -> set[str]:
    return {
        key
        for (key,) in query(
            settings.reporting_path,
            "SELECT DISTINCT caller_key FROM marts.fct_ticket_experience "
            "WHERE caller_key IS NOT NULL",
        )
    }


def _files(root: Path, since: float = 0.0) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_mtime >= since:
            yield path


def test_a_dictionary_attack_with_every_public_salt_finds_no_pseudonym(installation):
    settings, _ = installation
    published = _published_keys(settings)
    assert len(published) > 100
    # Every possible employee id, with each salt the repository ever published, and none.
    for salt in (*PUBLIC_SALTS, ""):
        found = {
            digest
            for i in range(1_000_000)
            if (digest := pseudonym(salt, f"E{i:06d}")) in published
        }
        assert found == set(), salt


def test_no_published_pseudonym_comes_from_a_value_of_the_repository(installation):
    settings, _ = installation
    # The callers behind a sample of published keys, from the working warehouse.
    pairs = query(
        settings.warehouse_path,
        "SELECT DISTINCT r.caller_id, s.caller_key FROM staging.stg_itsm__tickets AS s "
        "JOIN raw.itsm_tickets AS r ON r.number = s.ticket_number "
        "AND r.sys_updated_on = s.updated_at WHERE r.caller_id IS NOT NULL LIMIT 50",
    )
    assert len(pairs) == 50
    words = set()
    for path in PROJECT_ROOT.glob("**/*"):
        if ".venv" in path.parts or "target" in path.parts or ".git" in path.parts:
            continue
        if path.is_file() and path.suffix in (".py", ".sql", ".yml", ".md", ".csv", ".toml"):
            words |= set(re.findall(r"[\w.:/+=-]{8,}", path.read_text(errors="replace")))
    assert len(words) > 1000
    for caller_id, caller_key in pairs:
        assert not [w for w in words if pseudonym(w, caller_id) == caller_key]


def test_the_key_is_private_and_in_no_published_file_log_event_or_dbt_artifact(installation):
    settings, started = installation
    path = key_path(settings.data_dir)
    key = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # The working warehouse holds raw ids: its folder and file are the owner's alone.
    assert stat.S_IMODE(settings.warehouse_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(settings.warehouse_path.stat().st_mode) == 0o600
    secrets = (key.encode(), key.encode().hex().encode())
    scanned = 0
    # Everything the run wrote: the data dir (reporting, Parquet, packs, alerts, Data Docs,
    # Dagster's storage and logs, the warehouse) and dbt's artifacts (manifests, run results,
    # compiled SQL, logs).
    for root in (settings.data_dir, DBT_PROJECT_DIR / "target", DBT_PROJECT_DIR / "logs"):
        for file in _files(root, started if "dbt_project" in str(root) else 0.0):
            if file == path:
                continue
            data = file.read_bytes()
            assert not any(secret in data for secret in secrets), file
            scanned += 1
    assert scanned > 100


def _published_bytes(settings: Settings) -> Iterator[tuple[str, bytes]]:
    """Every published value and file as bytes: the marts' values (the database and the
    Parquet, read through DuckDB: their storage compresses text), the packs, alerts and Data
    Docs, and Dagster's event storage."""
    con = duckdb.connect(str(settings.reporting_path), read_only=True)
    try:
        for (table,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
        ).fetchall():
            rows = con.execute(f"SELECT * FROM marts.{table}").fetchall()
            yield f"marts.{table}", repr(rows).encode()
            parquet = settings.reporting_parquet_dir / f"{table}.parquet"
            yield str(parquet), repr(con.execute(f"SELECT * FROM '{parquet}'").fetchall()).encode()
    finally:
        con.close()
    for folder in (settings.reports_dir, settings.data_dir / "alerts", settings.quality_dir):
        for file in _files(folder):
            yield str(file), file.read_bytes()
    # Dagster's SQLite event storage (runs, events with their metadata) and its run logs.
    for file in _files(settings.dagster_home):
        yield str(file), file.read_bytes()


def test_nothing_published_holds_an_employee_id_or_a_comment(installation):
    settings, _ = installation
    seen = 0
    for name, data in _published_bytes(settings):
        assert not EMPLOYEE_ID.search(data), (name, EMPLOYEE_ID.search(data))
        assert not any(comment in data for comment in COMMENTS), name
        seen += 1
    assert seen > 20


def test_a_warehouse_built_with_the_public_default_stops_until_rebuilt(installation):
    settings, _ = installation
    # An installation of before: staged pseudonyms made with the public default, no record of
    # the key that built them.
    con = duckdb.connect(str(settings.warehouse_path))
    con.create_function("old_pseudonym", lambda v: pseudonym(PUBLIC_SALTS[0], v), [str], str)
    con.execute(
        "UPDATE staging.stg_itsm__tickets AS s SET caller_key = old_pseudonym(r.caller_id) "
        "FROM raw.itsm_tickets AS r WHERE r.number = s.ticket_number "
        "AND r.sys_updated_on = s.updated_at AND r.caller_id IS NOT NULL"
    )
    con.close()
    settings.build_state_path.unlink()
    before = _published_keys(settings)

    code, out, _ = _xmo("run", "--partition", str(LAST_DAY))

    assert code == 1
    assert "the warehouse was built with the public default pseudonym salt" in out
    assert "run `xmo run --all --full-refresh` to rebuild every pseudonym from raw" in out
    assert _published_keys(settings) == before  # nothing published meanwhile

    code, out, _ = _xmo("run", "--all", "--full-refresh")
    assert code == 0, out[-3000:]
    key = key_path(settings.data_dir).read_text().strip()
    staged = query(
        settings.warehouse_path,
        "SELECT r.caller_id, s.caller_key FROM staging.stg_itsm__tickets AS s "
        "JOIN raw.itsm_tickets AS r ON r.number = s.ticket_number "
        "AND r.sys_updated_on = s.updated_at WHERE r.caller_id IS NOT NULL",
    )
    assert all(pseudonym(key, caller) == staged_key for caller, staged_key in staged)
    assert _published_keys(settings) == before  # the same key as before the detour


def test_rotating_the_key_rebuilds_every_pseudonym_and_destroys_the_old_key(installation):
    settings, _ = installation
    old_key = key_path(settings.data_dir).read_text().strip()
    before = _published_keys(settings)

    code, out, _ = _xmo("key", "rotate")

    assert code == 0, out[-3000:]
    new_key = key_path(settings.data_dir).read_text().strip()
    assert new_key != old_key
    assert old_key not in out and new_key not in out
    after = _published_keys(settings)
    assert len(after) == len(before) and not after & before
    # The next ordinary run goes on with the new key.
    assert _xmo("run", "--partition", str(LAST_DAY))[0] == 0
    assert _published_keys(settings) == after


def test_a_key_replaced_behind_the_warehouses_back_stops_the_run(installation):
    settings, _ = installation
    path = key_path(settings.data_dir)
    current = path.read_text()
    path.write_text("f" * 64 + "\n")
    try:
        code, out, _ = _xmo("run", "--partition", str(LAST_DAY))
    finally:
        path.write_text(current)
    assert code == 1
    assert "the warehouse's pseudonyms were made with another key" in out
    assert "or restore the old key" in out
