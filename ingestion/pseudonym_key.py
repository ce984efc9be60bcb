"""The installation's secret pseudonym key: what keeps a published `caller_key` from being undone.

Employee ids are short and enumerable (a million of them hash in seconds), so a pseudonym is only
as safe as the secret mixed into it. Each data dir gets its own random 256-bit key on first use,
in `state/pseudonym.key` (the file 0600, its folder 0700), unless the environment gives one
(XMO_PSEUDONYM_SALT, at least 32 characters). The old public default of the repository is
refused. The key never leaves the process that reads it except into the dbt process's
environment, which dbt masks (DBT_ENV_SECRET_*); only a one-way fingerprint of it is stored
beside the warehouse, to tell which key built it.

A pseudonym is SHA-256 over the key, a `|` and the trimmed id, as lowercase hex: the key is a
uniformly random 256-bit secret, so nobody without it can compute or invert a pseudonym, and
both engines compute it with their own SHA-256 (docs/metrics.md, Privacy).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import duckdb

ENVIRONMENT_VARIABLE = "XMO_PSEUDONYM_SALT"
# What dbt reads the key from: a DBT_ENV_SECRET_ variable is masked in dbt's logs and refused
# anywhere but profiles.yml, so it cannot end up in a model's compiled SQL.
DBT_ENVIRONMENT_VARIABLE = "DBT_ENV_SECRET_XMO_PSEUDONYM_KEY"
# The same key hex-encoded, for Spark (macros/pseudonymize.sql says why).
DBT_ENVIRONMENT_VARIABLE_HEX = "DBT_ENV_SECRET_XMO_PSEUDONYM_KEY_HEX"
KEY_FILE = Path("state") / "pseudonym.key"
MIN_LENGTH = 32
# Salts that were ever public: the repository's old default. A key equal to one is refused.
PUBLIC_SALTS = ("xmo-demo-salt",)


class PseudonymKeyError(ValueError):
    """A key that cannot protect a pseudonym; the message says what to do instead."""


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def _checked(key: str, origin: str) -> str:
    if key in PUBLIC_SALTS:
        raise PseudonymKeyError(
            f"{origin} is the public default {key!r} printed in the repository, which lets "
            "anyone re-identify every pseudonym: unset it (a secret key is then created in "
            f"$XMO_DATA_DIR/{KEY_FILE}) or set your own of at least {MIN_LENGTH} characters"
        )
    if len(key) < MIN_LENGTH:
        raise PseudonymKeyError(
            f"{origin} is {len(key)} characters, too short to keep employee ids secret: use at "
            f"least {MIN_LENGTH} (python -c 'import secrets; print(secrets.token_hex(32))'), "
            f"or unset it to have one created in $XMO_DATA_DIR/{KEY_FILE}"
        )
    return key


def _write_private(path: Path, key: str) -> None:
    """Write the key as a file only its owner can read, in a folder only its owner can enter;
    replaced atomically, so a reader sees the old key or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    os.chmod(staged, 0o600)
    os.replace(staged, path)


def environment_key(env: Mapping[str, str]) -> str | None:
    """The key the environment gives, checked; None when it gives none."""
    given = env.get(ENVIRONMENT_VARIABLE, "")
    return _checked(given, ENVIRONMENT_VARIABLE) if given else None


def ensure_key(data_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """The installation's key: the environment's, else the data dir's, created on first use."""
    env = os.environ if env is None else env
    if (given := environment_key(env)) is not None:
        return given
    path = key_path(data_dir)
    if path.exists():
        return _checked(path.read_text(encoding="utf-8").strip(), str(path))
    key = secrets.token_hex(32)
    _write_private(path, key)
    return key


def rotate_key(data_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """Replace the data dir's key with a new one; the old one is gone. Returns the new key."""
    env = os.environ if env is None else env
    if env.get(ENVIRONMENT_VARIABLE):
        raise PseudonymKeyError(
            f"the key comes from {ENVIRONMENT_VARIABLE}: rotate it there (set a new value of at "
            f"least {MIN_LENGTH} characters), then run `xmo run --all`"
        )
    key = secrets.token_hex(32)
    _write_private(key_path(data_dir), key)
    return key


def dbt_secrets(key: str) -> dict[str, str]:
    """The environment through which the dbt process, and it alone, gets the key."""
    return {DBT_ENVIRONMENT_VARIABLE: key, DBT_ENVIRONMENT_VARIABLE_HEX: key.encode().hex()}


def fingerprint(key: str) -> str:
    """A one-way tag of the key, to tell which key built a warehouse without storing the key."""
    return hashlib.sha256(f"xmo pseudonym key fingerprint|{key}".encode()).hexdigest()[:16]


def pseudonym(key: str, value: str) -> str:
    """What the dbt models compute for an id (macros/pseudonymize.sql), for checks and tests."""
    return hashlib.sha256(f"{key}|{value.strip()}".encode()).hexdigest()


def warehouse_key(database: Path, key: str) -> str | None:
    """Which key made the staged pseudonyms of `database`, judged on one ticket whose caller's
    id the raw table still holds: "current" (`key`), "public" (a public salt), "other", or None
    when nothing is staged yet. For a warehouse built before the build record kept a key's
    fingerprint."""
    if not database.exists():
        return None
    con = duckdb.connect(str(database), read_only=True)
    try:
        rows = con.execute(
            "SELECT r.caller_id, s.caller_key FROM staging.stg_itsm__tickets AS s "
            "JOIN raw.itsm_tickets AS r ON r.number = s.ticket_number "
            "AND r.sys_updated_on = s.updated_at "
            "WHERE nullif(trim(r.caller_id), '') IS NOT NULL AND s.caller_key IS NOT NULL LIMIT 1"
        ).fetchall()
    except duckdb.CatalogException:
        return None  # nothing built yet
    finally:
        con.close()
    if not rows:
        return None
    caller_id, caller_key = rows[0]
    if pseudonym(key, caller_id) == caller_key:
        return "current"
    if any(pseudonym(salt, caller_id) == caller_key for salt in PUBLIC_SALTS):
        return "public"
    return "other"
