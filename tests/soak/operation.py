"""The soak's operator: watches the Dagster instance the daemon runs, injects faults, and keeps
the record the final checks read.

Everything the pipeline does here it does by itself — the landing sensor starts the runs, the
daemon's run monitoring and retries handle a killed worker — except what an operator does in the
UI: switching the sensor on and re-executing a failed run once its cause is fixed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from orchestration.alerts import describe_failed_run
from tests.e2e.dagster_server import Dagster

PARTITION_TAG = "dagster/partition"
WAIT_S = 900
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass
class Fault:
    """One injected fault and what came of it, for the closing report."""

    name: str
    day: str
    runs: list[str] = field(default_factory=list)
    outcome: str = ""


@dataclass
class Operator:
    dagster: Dagster
    instance: dg.DagsterInstance
    faults: list[Fault] = field(default_factory=list)
    expected_runs: int = 0
    # Runs already handed to the scenario by settle().
    settled: int = 0

    # -- what an operator does in the UI ------------------------------------------------------

    def switch_on_landing_sensor(self) -> None:
        answer = self.dagster.graphql(
            """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) {
                 __typename ... on Sensor { sensorState { status } }
                 ... on PythonError { message } } }""",
            {"s": self._sensor()},
        )["startSensor"]
        assert answer["__typename"] == "Sensor", answer

    def re_execute_from_failure(self, run_id: str) -> str:
        answer = self.dagster.graphql(
            """mutation($p: ReexecutionParams!) { launchRunReexecution(reexecutionParams: $p) {
                 __typename ... on LaunchRunSuccess { run { runId } }
                 ... on PythonError { message } } }""",
            {"p": {"parentRunId": run_id, "strategy": "FROM_FAILURE"}},
        )["launchRunReexecution"]
        assert answer["__typename"] == "LaunchRunSuccess", answer
        self.expected_runs += 1
        return answer["run"]["runId"]

    # -- watching -----------------------------------------------------------------------------

    def runs(self) -> list[dg.DagsterRun]:
        return list(reversed(self.instance.get_runs()))  # oldest first

    def runs_of(self, day: str) -> list[dg.DagsterRun]:
        return [run for run in self.runs() if run.tags.get(PARTITION_TAG) == day]

    def settle(self, more_runs: int) -> list[dg.DagsterRun]:
        """Wait until `more_runs` further runs exist and every run has finished; the runs not
        handed out by an earlier call."""
        self.expected_runs += more_runs
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            runs = self.runs()
            if len(runs) >= self.expected_runs and all(r.status.value in TERMINAL for r in runs):
                assert len(runs) == self.expected_runs, self._story(runs)
                new, self.settled = runs[self.settled :], len(runs)
                return new
            time.sleep(1)
        raise AssertionError(f"runs did not settle: {self._story(self.runs())}")

    def sensor_waits(self, since: float, reason: str) -> None:
        """Wait for a tick of the landing sensor, after `since`, that skipped with `reason`."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            ticks = self.dagster.graphql(
                """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) {
                     ... on Sensor { sensorState { ticks(limit: 5) {
                       timestamp skipReason } } } } }""",
                {"s": self._sensor()},
            )["sensorOrError"]["sensorState"]["ticks"]
            if any(t["timestamp"] > since and reason in (t["skipReason"] or "") for t in ticks):
                return
            time.sleep(1)
        raise AssertionError(
            f"the landing sensor never said {reason!r}; logs in {self.dagster.logs}"
        )

    def _sensor(self) -> dict[str, str]:
        return {
            "repositoryLocationName": self.dagster.location,
            "repositoryName": self.dagster.repository,
            "sensorName": "xmo_landing_sensor",
        }

    def nothing_starts(self, seconds: float) -> None:
        """The sensor waits: no run appears for `seconds` (a few of its ticks)."""
        count = len(self.runs())
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert len(self.runs()) == count, self._story(self.runs())
            time.sleep(1)

    def _story(self, runs: list[dg.DagsterRun]) -> str:
        lines = [
            f"expected {self.expected_runs} runs, found {len(runs)}; logs in {self.dagster.logs}"
        ]
        for run in runs:
            lines.append(
                f"  {run.run_id[:8]} {run.tags.get(PARTITION_TAG)} {run.status.value} "
                f"parent={(run.parent_run_id or '')[:8]}"
            )
            if run.status == dg.DagsterRunStatus.FAILURE:
                lines.append(f"    {describe_failed_run(self.instance, run, '').text}")
        return "\n".join(lines)

    def failed_steps(self, run_id: str) -> list[str]:
        return sorted(
            {
                event.step_key or ""
                for event in self.instance.all_logs(
                    run_id, of_type=dg.DagsterEventType.STEP_FAILURE
                )
            }
        )

    # -- faults -------------------------------------------------------------------------------

    def kill_worker_during_a_load(self, day: str) -> tuple[str, str]:
        """SIGKILL the run worker of `day`'s run while one of its load steps runs; returns the
        run and the step that was running."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for run in self.runs_of(day):
                if run.status != dg.DagsterRunStatus.STARTED:
                    continue
                loading = self._running_loads(run.run_id)
                pid = self._worker_pid(run.run_id)
                if loading and pid:
                    os.kill(pid, signal.SIGKILL)
                    # The step had not finished when the worker died: it never will.
                    still = self._running_loads(run.run_id)
                    assert loading[-1] in still, f"{loading[-1]} ended before the kill"
                    return run.run_id, loading[-1]
            time.sleep(0.1)
        raise AssertionError(f"no load of {day} to kill: {self._story(self.runs())}")

    def _running_loads(self, run_id: str) -> list[str]:
        """The load steps of the run that started and have not succeeded or failed."""
        events = self.instance.all_logs(
            run_id,
            of_type={
                dg.DagsterEventType.STEP_START,
                dg.DagsterEventType.STEP_SUCCESS,
                dg.DagsterEventType.STEP_FAILURE,
            },
        )
        started = [
            e.step_key for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_START
        ]
        ended = {
            e.step_key for e in events if e.dagster_event_type != dg.DagsterEventType.STEP_START
        }
        return [k for k in started if (k or "").startswith("load_") and k not in ended]

    def _worker_pid(self, run_id: str) -> int | None:
        for event in self.instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            found = re.search(r"Started process for run \(pid: (\d+)\)", event.message or "")
            if found:
                return int(found.group(1))
        return None


@contextmanager
def polling_reader(reporting_path: Path, out: Path) -> Iterator[Path]:
    """A reader process polling the reporting database until the block ends (tests/soak/reader)."""
    stop = out.with_suffix(".stop")
    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.soak.reader", str(reporting_path), str(out), str(stop)],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        yield out
    finally:
        stop.touch()
        try:
            code = reader.wait(timeout=60)
        except subprocess.TimeoutExpired:
            reader.kill()
            reader.wait()
            raise AssertionError("the polling reader did not stop") from None
        assert code == 0, f"the polling reader failed ({code}); its polls: {out}"


class FullDisk:
    """The data dir's filesystem filled up for a while: a small tmpfs mounted for the data dir
    (as root) with a ballast file taking all but a little of it. A user other than root, who
    may not mount, gets the warehouse's folder made read-only instead: writes fail the same way
    for the run (root writes to a read-only folder, so root must be able to mount)."""

    def __init__(self, data_dir: Path, size: str = "1g") -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "xmo-soak", str(data_dir)],
            capture_output=True,
            check=False,
        )
        self.mounted = mounted.returncode == 0
        if not self.mounted and os.geteuid() == 0:
            raise AssertionError(
                f"cannot simulate a full disk: mounting a tmpfs failed: {mounted.stderr.decode()}"
            )
        self.ballast = data_dir / "ballast"

    @contextmanager
    def full(self, leave_bytes: int, read_only: Path) -> Iterator[None]:
        if self.mounted:
            free = os.statvfs(self.data_dir)
            available = free.f_bavail * free.f_frsize
            with self.ballast.open("wb") as handle:
                handle.truncate(0)
                os.posix_fallocate(handle.fileno(), 0, max(0, available - leave_bytes))
        else:
            read_only.chmod(0o555)
        try:
            yield
        finally:
            if self.mounted:
                self.ballast.unlink(missing_ok=True)
            else:
                read_only.chmod(0o755)

    def release(self, keep_to: Path | None = None) -> None:
        """Unmount the filesystem; its files copied to `keep_to` first (to look at after a
        failure)."""
        if self.mounted:
            self.ballast.unlink(missing_ok=True)
            if keep_to is not None:
                shutil.copytree(self.data_dir, keep_to, symlinks=True, dirs_exist_ok=True)
            subprocess.run(["umount", "-l", str(self.data_dir)], check=False)
