"""The Dagster webserver and daemon on 127.0.0.1 over a data dir, as `make dev` runs them, for
the end-to-end tests to drive over GraphQL (the API the UI uses)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.instance import ensure_dagster_home
from orchestration.settings import PROJECT_ROOT, Settings

BIN = Path(sys.executable).parent
RUN_TIMEOUT_S = 600


@dataclass
class Dagster:
    url: str
    settings: Settings
    logs: Path
    location: str = ""
    repository: str = ""

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

    def selector(self, job: str) -> dict[str, str]:
        return {
            "repositoryLocationName": self.location,
            "repositoryName": self.repository,
            "jobName": job,
        }


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
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    commands = {
        "webserver": [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)],
        "daemon": [str(BIN / "dagster-daemon"), "run"],
    }
    processes = []
    for name, command in commands.items():
        log = (logs / f"{name}.log").open("w")
        processes.append(
            subprocess.Popen(
                [*command, "-w", workspace],
                cwd=PROJECT_ROOT,
                env=process_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        _wait_until_up(url, processes, logs)
        server = Dagster(url=url, settings=settings, logs=logs)
        _wait_for_code_location(server)
        repository = server.graphql(
            "{ repositoriesOrError { ... on RepositoryConnection "
            "{ nodes { name location { name } } } } }"
        )["repositoriesOrError"]["nodes"][0]
        server.location, server.repository = repository["location"]["name"], repository["name"]
        yield server
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
