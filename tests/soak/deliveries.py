"""What the organisation's sources deliver into landing, day by day, and how deliveries go wrong.

The whole period is generated once into a folder of its own; a delivery moves one day's folder
of a source into landing as a transfer tool does (written aside, renamed into place), so the
sensor never sees half a folder unless a fault says so.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import pandas as pd

from ingestion.landing import landing_folder
from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.settings import PROJECT_SEEDS_DIR, Settings

# The directory first: it is not required for a day to start, so delivered last it would
# start a second run of a day that was complete without it.
SOURCES = ("directory", "device", "itsm", "survey")


class Deliveries:
    """A generated organisation and the landing zone its files are delivered into."""

    def __init__(self, settings: Settings, generated: Path, config: GeneratorConfig) -> None:
        self.landing = settings.landing_dir
        self.generated = generated
        generate(generated / "landing", settings.reference_dir, PROJECT_SEEDS_DIR, config)
        self.days = [day for day in _days(generated / "landing")]

    def deliver(
        self, day: date, sources: tuple[str, ...] = SOURCES, cut_off: str | None = None
    ) -> None:
        """`day`'s folders of `sources` (a folder delivered again replaces the old); the first
        file of `cut_off`'s folder half-written."""
        for source in sources:
            folder = landing_folder(self.generated / "landing", source, day)
            if folder.exists():
                self._put(folder, landing_folder(self.landing, source, day), source == cut_off)

    def deliver_truncated(self, day: date) -> None:
        """`day`'s folders, the ticket extract cut off half-way (a transfer that broke)."""
        self.deliver(day, cut_off="itsm")

    def redeliver_changed(self, day: date) -> dict[str, int]:
        """`day`'s ticket and survey extracts again, with rows changed and rows removed; the
        generated copy is changed too, so a later full delivery keeps the change."""
        itsm = landing_folder(self.generated / "landing", "itsm", day)
        extract = sorted(itsm.glob("*.json"))[0]
        records = json.loads(extract.read_text())["result"]
        removed_tickets = len(records) // 5
        kept = records[removed_tickets:]
        for record in kept[:3]:
            record["reassignment_count"] = str(int(record.get("reassignment_count") or 0) + 2)
        extract.write_text(json.dumps({"result": kept}))

        survey = next(landing_folder(self.generated / "landing", "survey", day).glob("*.csv"))
        answers = pd.read_csv(survey, dtype=str, keep_default_na=False)
        removed_answers = max(0, min(3, len(answers) - 1))
        answers = answers.iloc[removed_answers:].reset_index(drop=True)
        if len(answers):
            answers.loc[0, "happiness"] = "0" if answers.loc[0, "happiness"] != "0" else "10"
        answers.to_csv(survey, index=False)

        self.deliver(day, ("itsm", "survey"))
        return {"tickets_removed": removed_tickets, "answers_removed": removed_answers}

    def files_size(self, day: date) -> int:
        return sum(
            path.stat().st_size
            for source in SOURCES
            for path in landing_folder(self.generated / "landing", source, day).glob("*")
        )

    def _put(self, folder: Path, target: Path, cut_off: bool = False) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.delivering")
        shutil.rmtree(staged, ignore_errors=True)
        # Copied without the generated files' times: a delivered file is as old as its delivery.
        shutil.copytree(folder, staged, copy_function=shutil.copyfile)
        if cut_off:
            first = sorted(staged.glob("*.json"))[0]
            first.write_bytes(first.read_bytes()[: first.stat().st_size // 2])
        if target.exists():
            # A re-delivery: the files replaced one by one, each renamed into place.
            for path in staged.iterdir():
                os.replace(path, target / path.name)
            staged.rmdir()
        else:
            os.replace(staged, target)


def _days(landing: Path) -> list[date]:
    return sorted({date.fromisoformat(p.name) for p in (landing / "itsm").iterdir()})
