"""A long load reports running totals now and then, not a line per extract date."""

from __future__ import annotations

from datetime import date, timedelta

from ingestion.loader import FileLoad, LoadProgress, PartitionLoad

FIRST = date(2026, 3, 9)


def _load(day: int, quarantined: int = 0) -> PartitionLoad:
    load = PartitionLoad("survey", FIRST + timedelta(days=day), "folder")
    load.files.append(FileLoad(f"f{day}.csv", 10, 10 - quarantined, quarantined))
    return load


def test_running_totals_every_interval_and_each_date_with_quarantined_rows():
    now = [0.0]
    lines: list[str] = []
    progress = LoadProgress("survey", 6, lines.append, every_s=15.0, clock=lambda: now[0])
    for day in range(6):
        now[0] += 6.0  # 6 s a date: totals after the 3rd (18 s) and the 6th (18 s later)
        progress.add(_load(day, quarantined=2 if day == 4 else 0))
    progress.finish()  # everything reported already: no repeated line

    assert lines == [
        "survey: 3 of 6 extract dates loaded (2026-03-09..2026-03-11): 3 files, 30 read, "
        "30 loaded, 0 quarantined",
        "survey 2026-03-13: 10 read, 8 loaded, 2 quarantined",
        "survey: 6 of 6 extract dates loaded (2026-03-09..2026-03-14): 6 files, 60 read, "
        "58 loaded, 2 quarantined",
    ]


def test_a_quick_load_reports_once_at_the_end_and_an_empty_one_says_so():
    lines: list[str] = []
    progress = LoadProgress("itsm", 1, lines.append, clock=lambda: 0.0)
    progress.add(_load(0))
    progress.finish()
    empty: list[str] = []
    LoadProgress("itsm", 0, empty.append, clock=lambda: 0.0).finish()

    assert lines == [
        "itsm: 1 of 1 extract dates loaded (2026-03-09..2026-03-09): 1 files, 10 read, "
        "10 loaded, 0 quarantined"
    ]
    assert empty == [
        "itsm: 0 of 0 extract dates loaded (no extract dates): 0 files, 0 read, "
        "0 loaded, 0 quarantined"
    ]
