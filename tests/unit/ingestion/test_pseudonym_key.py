"""The installation's pseudonym key: created once, private, never a public default."""

from __future__ import annotations

import stat

import duckdb
import pytest

from ingestion.pseudonym_key import (
    PseudonymKeyError,
    ensure_key,
    fingerprint,
    key_path,
    pseudonym,
    rotate_key,
    warehouse_key,
)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_data_dir_gets_a_private_random_key_on_first_use_and_keeps_it(tmp_path):
    key = ensure_key(tmp_path / "a", {})
    path = key_path(tmp_path / "a")
    assert len(key) == 64 and int(key, 16) >= 0  # 256 bits, hex
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert ensure_key(tmp_path / "a", {}) == key  # every later run reads the same key
    assert ensure_key(tmp_path / "b", {}) != key  # another installation, another key


def test_a_key_from_the_environment_wins_and_writes_nothing(tmp_path):
    given = "k" * 32
    assert ensure_key(tmp_path, {"XMO_PSEUDONYM_SALT": given}) == given
    assert not key_path(tmp_path).exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("xmo-demo-salt", "is the public default 'xmo-demo-salt' printed in the repository"),
        (
            "short-secret",
            "is 12 characters, too short to keep employee ids secret: use at least 32",
        ),
    ],
)
def test_the_public_default_and_a_short_key_are_refused_saying_what_to_do(tmp_path, value, message):
    with pytest.raises(PseudonymKeyError, match=message):
        ensure_key(tmp_path, {"XMO_PSEUDONYM_SALT": value})


def test_rotation_replaces_the_key_and_the_old_one_is_gone(tmp_path):
    old = ensure_key(tmp_path, {})
    new = rotate_key(tmp_path, {})
    assert new != old and ensure_key(tmp_path, {}) == new
    assert old not in key_path(tmp_path).read_text()
    assert [p.name for p in key_path(tmp_path).parent.iterdir()] == ["pseudonym.key"]
    assert _mode(key_path(tmp_path)) == 0o600
    with pytest.raises(PseudonymKeyError, match="the key comes from XMO_PSEUDONYM_SALT"):
        rotate_key(tmp_path, {"XMO_PSEUDONYM_SALT": "k" * 40})


def test_the_fingerprint_tells_keys_apart_and_does_not_hold_the_key():
    key = "a" * 64
    assert fingerprint(key) == fingerprint(key) != fingerprint("b" * 64)
    assert key not in fingerprint(key) and len(fingerprint(key)) == 16


def test_which_key_made_a_warehouses_pseudonyms_is_read_from_its_data(tmp_path):
    database = tmp_path / "w.duckdb"
    key = "c" * 64
    assert warehouse_key(database, key) is None  # no warehouse yet
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA raw; CREATE SCHEMA staging")
        con.execute(
            "CREATE TABLE raw.itsm_tickets AS SELECT 'INC1' AS number, 'E000042' AS caller_id, "
            "TIMESTAMP '2026-03-02 10:00' AS sys_updated_on"
        )
        con.execute(
            "CREATE TABLE staging.stg_itsm__tickets AS SELECT 'INC1' AS ticket_number, "
            "TIMESTAMP '2026-03-02 10:00' AS updated_at, ? AS caller_key",
            [pseudonym("xmo-demo-salt", "E000042")],
        )
    assert warehouse_key(database, key) == "public"
    with duckdb.connect(str(database)) as con:
        con.execute(
            "UPDATE staging.stg_itsm__tickets SET caller_key = ?", [pseudonym(key, "E000042")]
        )
    assert warehouse_key(database, key) == "current"
    assert warehouse_key(database, "d" * 64) == "other"
