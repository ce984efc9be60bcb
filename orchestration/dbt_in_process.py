"""dbt in the run's own process: dagster-dbt's invocation with dbt's programmatic runner behind it.

dagster-dbt starts `dbt` as a subprocess and reads its JSON log lines from stdout. A fresh dbt
process costs a daily run ~2.5 s of imports (dbt, the adapter, agate) before its first node —
imports the run's process has already paid for. Here dbt runs on a thread of this process
(`dbt.cli.main.dbtRunner`) and its events, serialized exactly as `--log-format json` prints
them, are handed to dagster-dbt through a pipe-like object in place of the subprocess. Every
event, asset and check dagster-dbt makes of them is unchanged: only the process is gone.

The seam is the one `subprocess.Popen(...)` call in `DbtCliInvocation.run`; dagster-dbt is pinned
exactly (pyproject.toml) and tests/unit/orchestration/test_dbt_in_process.py fails loudly if the
call moves. Only DuckDB targets run here: a Spark session started by dbt would keep its JVM in
the run's process after dbt finished.
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from dagster_dbt.core import dbt_cli_invocation

# What dbt's stdout logger prints by default; debug events would only be re-emitted to stdout.
_LOGGED_LEVELS = frozenset({"info", "warn", "error"})
_END = object()
# How often an interrupted build's running queries are cancelled until dbt has stopped.
CANCEL_EVERY_S = 0.2


class _EventLines:
    """The `stdout` of the stand-in process: JSON event lines as bytes, as dbt would print them."""

    def __init__(self, start: Any) -> None:
        self._lines: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._start = start
        self.closed = False

    def put(self, line: bytes | object) -> None:
        self._lines.put(line)

    def __iter__(self) -> Iterator[bytes]:
        self._start()
        while (line := self._lines.get()) is not _END:
            yield line

    def __enter__(self) -> _EventLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True


class InProcessDbt:
    """A `subprocess.Popen` of `dbt <args>` that runs dbt on a thread of this process.

    dbt starts when its output is first read (dagster-dbt's `stream()`), with the environment
    dagster-dbt composed for the subprocess set in os.environ for the length of the build
    (dbt reads flags and `env_var()` from there) and restored after: the pseudonym key stays in
    the environment only while dbt runs, as it stayed only in dbt's process before.
    """

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Any = None,
        **_: Any,
    ) -> None:
        self.args = list(args)
        self.returncode: int | None = None
        self._env = dict(env or os.environ)
        # A dbt process resolves these against its working directory; this process keeps its own.
        for name in ("DBT_TARGET_PATH", "DBT_LOG_PATH"):
            if cwd is not None and name in self._env:
                self._env[name] = os.path.join(cwd, self._env[name])
        self._started = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._errors = 0
        self._running = True
        self._interruptible = threading.Lock()
        self.stdout = _EventLines(self._start)

    def _start(self) -> None:
        with self._started:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dbt", daemon=True)
                self._thread.start()

    def _emit(self, message: Any) -> None:
        from dbt_common.events.functions import env_scrubber, msg_to_json

        if message.info.level in _LOGGED_LEVELS:
            self._errors += message.info.level == "error"
            # As dbt's stdout logger: the values of DBT_ENV_SECRET_* variables masked.
            self.stdout.put(env_scrubber(msg_to_json(message)).encode())

    def _run(self) -> None:
        from dbt.cli.main import dbtRunner

        try:
            with _environment(self._env):
                # dbt's own stdout logger off (dagster-dbt re-prints the events it reads); its
                # log file as a dbt process writes it (--log-level would silence it too).
                file_level = self._env.get("DBT_LOG_LEVEL_FILE", "debug")
                result = dbtRunner(callbacks=[self._emit]).invoke(
                    ["--log-level", "none", "--log-level-file", file_level, *self.args[1:]]
                )
                # From here on no interrupt is sent; one sent before is raised by the time this
                # block is left, and handled below (the environment's restore withstands it).
                with self._interruptible:
                    self._running = False
            if result.exception is not None and not self._errors:
                self._emit_error(result.exception)
            # dbt's CLI exit codes: 0 success, 1 a node failed, 2 dbt itself failed.
            self.returncode = 0 if result.success else 2 if result.exception else 1
        except BaseException as exc:  # never leave the reader waiting for lines
            with self._interruptible:
                self._running = False
            self.returncode = 2
            self._emit_error(exc)
        finally:
            _release_duckdb()
            self._done.set()
            self.stdout.put(_END)

    def _emit_error(self, exc: BaseException) -> None:
        """dbt's failure as the error line a dbt process would print (dagster-dbt collects them)."""
        line = {
            "info": {
                "level": "error",
                "msg": f"{type(exc).__name__}: {exc}",
                "name": "XmoDbtError",
            },
            "data": {},
        }
        self.stdout.put(json.dumps(line).encode())

    def poll(self) -> int | None:
        return self.returncode if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        self._start()  # a `wait()` before anything read the output still runs dbt
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signal: int) -> None:
        """As Ctrl-C to a dbt process: dbt's thread gets KeyboardInterrupt (dbt then cancels
        what runs, writes run_results.json and stops), and the running queries are cancelled
        until it has: a thread waiting for its workers notices the interrupt only when a query
        ends, and a cancel sent between two statements is lost."""
        thread = self._thread
        if thread is None or thread.ident is None:
            return
        with self._interruptible:
            if not self._running:
                return
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt)
            )
        threading.Thread(target=self._cancel_until_done, name="dbt-cancel", daemon=True).start()

    def _cancel_until_done(self) -> None:
        from dbt.adapters.factory import FACTORY

        while True:
            for adapter in list(FACTORY.adapters.values()):
                try:
                    adapter.cancel_open_connections()
                except Exception:  # a connection closing meanwhile: nothing left to cancel
                    pass
            if self._done.wait(CANCEL_EVERY_S):
                return

    def terminate(self) -> None:
        self.send_signal(2)

    kill = terminate


_ENVIRONMENT_LOCK = threading.Lock()


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ as `env` while dbt runs (one build at a time), restored after.

    Only the names that differ are touched: the run's other thread keeps reading the rest.
    """
    with _ENVIRONMENT_LOCK:
        changed = {name for name, value in env.items() if os.environ.get(name) != value}
        removed = set(os.environ) - set(env)
        saved = {name: os.environ[name] for name in changed | removed if name in os.environ}
        for name in removed:
            os.environ.pop(name, None)
        os.environ.update({name: env[name] for name in changed})
        try:
            yield
        finally:
            while True:  # an interrupt arriving meanwhile must not leave the key behind
                try:
                    for name in changed | removed:
                        os.environ.pop(name, None)
                    os.environ.update(saved)
                    break
                except KeyboardInterrupt:
                    continue


def _release_duckdb() -> None:
    """Close dbt-duckdb's database, which it keeps per process, so the warehouse file is free
    for the run's next steps and other processes as it was when dbt's process exited."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if environment is not None:
        environment.close()


class _InProcessSubprocess:
    """The `subprocess` module as `DbtCliInvocation.run` sees it while dbt runs in process."""

    PIPE = subprocess.PIPE
    STDOUT = subprocess.STDOUT
    Popen = InProcessDbt


@contextmanager
def dbt_in_this_process() -> Iterator[None]:
    """Invocations started inside the block run dbt in this process (see the module's doc)."""
    original = dbt_cli_invocation.subprocess
    dbt_cli_invocation.subprocess = _InProcessSubprocess  # type: ignore[assignment]
    try:
        yield
    finally:
        dbt_cli_invocation.subprocess = original
