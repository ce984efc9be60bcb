"""A real PostgreSQL server for the tests: Debian's binaries, a cluster made by initdb in a
temporary folder, listening on 127.0.0.1 at a free port, stopped (and checked gone) afterwards.

The Makefile installs Debian's `postgresql` package. PostgreSQL refuses to run as root; as root
(CI's containers), the server runs as the package's `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INITDB_OPTIONS = ("--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
# Durability off: a test database, thrown away after.
SERVER_OPTIONS = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL's server binaries are not installed: `make test` installs Debian's "
            "postgresql package (apt-get install postgresql)"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user() -> dict[str, str]:
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


# Every cluster folder this test session made (tests/conftest.py checks none is still served).
CREATED: list[Path] = []


def server_processes(data_dir: Path) -> list[int]:
    """The pids of postgres processes serving `data_dir` (what a stop must leave at none)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command and Path(command[0].decode(errors="replace")).name in ("postgres", "postmaster"):
            if str(data_dir).encode() in b" ".join(command):
                pids.append(int(entry.name))
    return pids


@contextmanager
def postgres_server(database: str = "dagster") -> Iterator[str]:
    """Yield the URL of a new database on a new server; the server is stopped on exit.

    The postmaster is this process's child (not daemonized by pg_ctl), so its exit is reaped
    here and no process, not even a zombie, outlives the block.
    """
    bin_dir, as_user = _bin_dir(), _as_server_user()
    # Not under pytest's tmp_path (nor $TMPDIR): its parents may be private to root, and the
    # server's user needs in.
    root = Path(tempfile.mkdtemp(prefix="xmo-postgres-", dir="/tmp"))
    CREATED.append(root)
    data_dir = root / "data"
    if as_user:
        shutil.chown(root, user="postgres")
    try:
        _run(
            [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "xmo", *INITDB_OPTIONS],
            **as_user,
        )
        port = _free_port()
        log = (root / "log").open("wb")
        listen = ("-h", "127.0.0.1", "-p", str(port), "-k", str(root))
        server = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data_dir), *listen, *SERVER_OPTIONS],
            stdout=log,
            stderr=subprocess.STDOUT,
            **as_user,
        )
        try:
            _wait_until_ready(bin_dir, port, server, root / "log")
            _run(
                [
                    str(bin_dir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "xmo",
                    database,
                ]
            )
            # The driver named: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3.
            yield f"postgresql+psycopg2://xmo@127.0.0.1:{port}/{database}"
        finally:
            server.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
        left = server_processes(data_dir)
        assert not left, f"postgres processes left after the stop: {left}"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(command: list[str], **as_user: str) -> None:
    done = subprocess.run(command, capture_output=True, **as_user)
    if done.returncode:
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise RuntimeError(f"{Path(command[0]).name} failed ({done.returncode}): {output}")


def _wait_until_ready(bin_dir: Path, port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"postgres exited: {log.read_text(errors='replace')[-2000:]}")
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"], check=False
        )
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"postgres not ready after 60 s: {log.read_text(errors='replace')[-2000:]}")
