"""Wall time and peak memory of a command and every process it starts (Linux /proc)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SAMPLE_EVERY_S = 0.1


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    peak_rss_mb: float
    returncode: int


def process_stats() -> Iterator[tuple[int, list[str]]]:
    """Every process's pid and the fields of its /proc/<pid>/stat after the command name
    (state, ppid, pgrp, session, ...)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # The command name (field 2) may hold spaces and parentheses: split after its ')'.
        yield int(entry.name), stat[stat.rindex(")") + 2 :].split()


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid, fields in process_stats():
        children.setdefault(int(fields[1]), []).append(pid)
    return children


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants, summed."""
    children = _children()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += resident_pages * PAGE_BYTES
        stack.extend(children.get(pid, []))
    return total


def run_measured(command: list[str], env: dict[str, str], log: Path) -> Measurement:
    """Run `command` to completion, its output to `log`, sampling the tree's RSS."""
    peak = 0
    start = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        while process.poll() is None:
            peak = max(peak, tree_rss_bytes(process.pid))
            time.sleep(SAMPLE_EVERY_S)
    wall = time.perf_counter() - start
    return Measurement(
        wall_s=round(wall, 1), peak_rss_mb=round(peak / 2**20), returncode=process.returncode
    )
