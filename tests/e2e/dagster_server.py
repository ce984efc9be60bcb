"""The Dagster webserver and daemon on 127.0.0.1 over a data dir, as `make dev` runs them, for
the end-to-end tests to drive over GraphQL (the API the UI uses)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.instance import ensure_dagster_home
from orchestration.settings import POSTGRES_URL_ENV, PROJECT_ROOT, PROJECT_SEEDS_DIR, Settings
from tests.postgres_server import postgres_server

BIN = Path(sys.executable).parent
RUN_TIMEOUT_S = 600


@dataclass
class Dagster:
    url: str
    settings: Settings
    logs: Path
    location: str = ""
    repository: str = ""
    # The webserver's and the daemon's processes, by name, and how each was started.
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert "errors" not in answer, answer["errors"]
        return answer["data"]

    def wait_for_run(self, run_id: str) -> str:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline:
            status = self.graphql(
                "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                {"id": run_id},
            )["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(2)
        raise AssertionError(f"run {run_id} still not finished; logs in {self.logs}")

    def restart_daemon(self) -> None:
        """Stop the daemon as a service manager does (SIGTERM; what it started goes with it) and
        start it again."""
        _stop([self.processes["daemon"]])
        self.processes["daemon"] = self._start("daemon", mode="a")

    def _start(self, name: str, mode: str = "w") -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open(mode)
        return subprocess.Popen(
            self.commands[name],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def selector(self, job: str) -> dict[str, str]:
        return {
            "repositoryLocationName": self.location,
            "repositoryName": self.repository,
            "jobName": job,
        }


# Dagster's instance storage the end-to-end suites run on: the embedded default and production's.
STORAGES = ("sqlite", "postgres")


@contextmanager
def instance_storage(kind: str) -> Iterator[dict[str, str]]:
    """The XMO_* environment that puts a Dagster home on `kind` storage (a PostgreSQL server
    of its own, stopped when the block ends)."""
    if kind == "sqlite":
        yield {}
        return
    with postgres_server() as url:
        yield {POSTGRES_URL_ENV: url}


@contextmanager
def generated_organisation(
    root: Path, storage: str, config: GeneratorConfig
) -> Iterator[tuple[Settings, dict[str, str]]]:
    """A data dir under `root` whose landing holds `config`'s organisation, and the XMO_*
    environment that puts its Dagster home on `storage` (for `serving`)."""
    with instance_storage(storage) as storage_env:
        settings = Settings.from_env({"XMO_DATA_DIR": str(root / "data"), **storage_env})
        generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, config)
        yield settings, storage_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, processes: list[subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                # CI keeps only the test report, so the cause goes into the message.
                name = Path(process.args[0]).name.removeprefix("dagster-")
                tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"{process.args[0]} exited; its log ends:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    raise AssertionError(f"the webserver did not come up; see {logs}")


def _wait_for_code_location(server: Dagster) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        entries = server.graphql(
            """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
                 locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
        )["workspaceOrError"]["locationEntries"]
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            errors = [e["locationOrLoadError"] for e in entries]
            assert all(e["__typename"] == "RepositoryLocation" for e in errors), errors
            return
        time.sleep(1)
    raise AssertionError(f"the code location did not load; see {server.logs}")


@contextmanager
def serving(root: Path, settings: Settings, env: Mapping[str, str] = {}) -> Iterator[Dagster]:
    """The webserver and the daemon over `settings`' data dir until the block ends; `env`
    adds XMO_* settings to their environment. Their logs go to root/logs."""
    with mock.patch.dict(os.environ, env):  # Dagster reads its storage URL from the environment
        home = ensure_dagster_home(settings)
    process_env = {
        **os.environ,
        **env,
        "XMO_DATA_DIR": str(settings.data_dir),
        "DAGSTER_HOME": str(home),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process_env["XMO_UI_URL"] = url
    logs = root / "logs"
    logs.mkdir()
    workspace = ["-w", str(PROJECT_ROOT / "workspace.yaml")]
    listen = ["-h", "127.0.0.1", "-p", str(port)]
    server = Dagster(
        url=url,
        settings=settings,
        logs=logs,
        commands={
            "webserver": [str(BIN / "dagster-webserver"), *listen, *workspace],
            "daemon": [str(BIN / "dagster-daemon"), "run", *workspace],
        },
        env=process_env,
    )
    for name in server.commands:
        server.processes[name] = server._start(name)
    try:
        _wait_until_up(url, list(server.processes.values()), logs)
        _wait_for_code_location(server)
        repository = server.graphql(
            "{ repositoriesOrError { ... on RepositoryConnection "
            "{ nodes { name location { name } } } } }"
        )["repositoriesOrError"]["nodes"][0]
        server.location, server.repository = repository["location"]["name"], repository["name"]
        yield server
    finally:
        _stop(list(server.processes.values()))


def _stop(processes: list[subprocess.Popen]) -> None:
    """Stop the webserver and the daemon, then wait for what they started (code servers, run
    workers) to exit too, before the caller stops the storage they write to.

    A code server that finds the storage gone when a run process exits loses its cleanup
    thread and never shuts down (seen with PostgreSQL stopped right after a test): left alone it
    would outlive `make test`."""
    started = [pid for process in processes for pid in _descendants(process.pid)]
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    deadline = time.monotonic() + 60
    while (alive := [pid for pid in started if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; its parent (init, here) reaps it
