"""Which landing sources an organisation delivers: configuration, not an assumption.

An XMO adopts the pipeline source by source: many start with tickets and ticket surveys and have
no device (DEX) tool yet. By default all four sources are declared. A declared source must
arrive (its freshness gate fails when it is late); one that is not declared is loaded as empty,
nothing waits for it and no gate fails for its absence, and the marts that need it are
published empty. Tickets are the one source every organisation needs: services, their
experience and the XLAs all start from them.

The setting is the environment's `XMO_SOURCES` (names separated by commas or spaces), else the
data dir's `sources.yml`, else all four.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from ingestion.sources import SOURCES

ENVIRONMENT_VARIABLE = "XMO_SOURCES"
SOURCES_FILE = "sources.yml"
ALL_SOURCES: tuple[str, ...] = tuple(SOURCES)
REQUIRED_SOURCES = ("itsm",)
# Sources that deliver an extract every day; the directory comes when it changes (often weekly).
DAILY_SOURCES = ("survey", "itsm", "device")


class DeclaredSourcesError(ValueError):
    """A list of sources that cannot be used; the message says what to write instead."""


def parse_sources(names: Iterable[str], origin: str) -> tuple[str, ...]:
    """The declared sources in their canonical order; `origin` names where they were read."""
    given = [name.strip().lower() for name in names if name and name.strip()]
    known = ", ".join(ALL_SOURCES)
    unknown = sorted(set(given) - set(ALL_SOURCES))
    if unknown:
        raise DeclaredSourcesError(f"{origin}: unknown source(s) {', '.join(unknown)}; use {known}")
    missing = [name for name in REQUIRED_SOURCES if name not in given]
    if missing:
        raise DeclaredSourcesError(
            f"{origin}: {', '.join(missing)} is required (every service and XLA starts from "
            f"tickets); declare it with the others, e.g. itsm,survey"
        )
    return tuple(name for name in ALL_SOURCES if name in given)


def parse_sources_text(text: str, origin: str) -> tuple[str, ...]:
    """`itsm,survey` or `itsm survey`, as the environment variable holds them."""
    return parse_sources(re.split(r"[,\s]+", text), origin)


def read_sources_file(path: Path) -> tuple[str, ...] | None:
    """The sources a data dir's sources.yml declares; None when it has none."""
    if not path.is_file():
        return None
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DeclaredSourcesError(f"{path}: cannot be read as YAML ({exc})") from None
    listed = document.get("sources") if isinstance(document, dict) else None
    if not isinstance(listed, list) or not all(isinstance(name, str) for name in listed):
        raise DeclaredSourcesError(
            f"{path}: expected `sources:` followed by a list of names, e.g. sources: [itsm, survey]"
        )
    return parse_sources(listed, str(path))


def write_sources_file(path: Path, sources: Iterable[str]) -> Path:
    """Declare `sources` in a data dir's sources.yml (what `xmo generate` wrote, for instance)."""
    declared = parse_sources(sources, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# The landing sources this organisation delivers (survey, itsm, directory, device; itsm\n"
        "# is required). A source left out is loaded as empty, nothing waits for it, and the\n"
        "# marts that need it are published empty. XMO_SOURCES, when set, takes precedence.\n"
        f"sources: [{', '.join(declared)}]\n",
        encoding="utf-8",
    )
    return path
