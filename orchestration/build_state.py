"""What the working warehouse was last built with, so a change rebuilds the dbt models whole.

The incremental models keep rows built by earlier runs. Those rows are only right for the
sources the organisation declared then (a source dropped leaves its rows behind, one declared
since has no history in them) and for the code that built them (a staging model that gained a
column, a changed rule). When either differs from the last successful build, the next build is
a full refresh; a warehouse with no record (new, or built by a version before the record) gets
one too. Their pseudonyms are only right for the key that made them: a build with another key
would mix two keys in one mart, so it stops and says how to rebuild (orchestration/assets/dbt.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BuildState:
    sources: tuple[str, ...]
    incremental_code: str  # digest of the incremental models' and the project's macros' code
    # A one-way fingerprint of the pseudonym key (ingestion/pseudonym_key.py), never the key.
    pseudonym_key: str = ""
    # What the period marts are computed with besides the data (reference_digest: seeds,
    # thresholds, the models' code): when it changes they rebuild every period, the models they
    # are built from stay as they are.
    reference: str = ""

    def differences(self, previous: BuildState | None) -> list[str]:
        """Why a build with this state cannot continue from `previous` ([] if it can)."""
        if previous is None:
            return ["no record of the last build"]
        reasons = []
        if previous.sources != self.sources:
            reasons.append(
                f"sources changed from {', '.join(previous.sources)} to {', '.join(self.sources)}"
            )
        if previous.incremental_code != self.incremental_code:
            reasons.append("the incremental models' code changed")
        return reasons


def incremental_code_digest(manifest: dict[str, Any], project: str = "xmo") -> str:
    """A digest of what decides the incremental models' rows: their SQL and the project's
    macros (the incremental strategy, the version choice)."""
    parts = sorted(
        f"{node['unique_id']}\n{node.get('raw_code', '')}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("materialized") == "incremental"
    )
    parts += sorted(
        f"{macro['unique_id']}\n{macro.get('macro_sql', '')}"
        for macro in manifest["macros"].values()
        if macro["package_name"] == project
    )
    return hashlib.sha256("\n\n".join(parts).encode()).hexdigest()[:16]


def models_code_digest(manifest: dict[str, Any], project_file: Path) -> str:
    """A digest of every model's SQL and of the project file (its vars' defaults): a period
    mart's rows also depend on the models it reads that are rebuilt whole."""
    parts = sorted(
        f"{node['unique_id']}\n{node.get('raw_code', '')}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    )
    parts.append(project_file.read_text(encoding="utf-8"))
    return hashlib.sha256("\n\n".join(parts).encode()).hexdigest()[:16]


def reference_digest(seeds_dir: Path, dbt_vars: Mapping[str, Any], code: str = "") -> str:
    """A digest of the reference seeds (as staged for dbt), the thresholds dbt is given and
    `code` (models_code_digest)."""
    digest = hashlib.sha256(json.dumps(dict(dbt_vars), sort_keys=True).encode() + code.encode())
    for path in sorted(seeds_dir.glob("*.csv")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# The period marts (macros/touched_periods.sql) rebuild only the periods a build's extract window
# touched, found from their parents' rows before the build. A build that changes their parents
# without them, or that stops half-way, leaves them behind: the next build of theirs then
# rebuilds every period. The mark is set before such a build starts (a killed process leaves it
# set) and cleared by a successful build of every period mart.
PERIOD_MARTS_BEHIND = "period_marts_behind"


def period_marts_rebuild_reasons(
    selected: AbstractSet[Any],
    incremental: AbstractSet[Any],
    behind: bool,
    reference_changed: bool,
) -> list[str]:
    """Why the period marts of a build must rebuild every period ([] if the touched ones do)."""
    reasons = []
    if behind:
        reasons.append("an earlier build changed what they are built from without them, or stopped")
    if reference_changed:
        reasons.append("the reference data, the thresholds or the models' code changed")
    if not incremental <= selected:
        reasons.append("this build does not rebuild every incremental model")
    return reasons


def read_build_state(path: Path) -> BuildState | None:
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        return BuildState(
            tuple(recorded["sources"]),
            str(recorded["incremental_code"]),
            str(recorded.get("pseudonym_key", "")),
            str(recorded.get("reference", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none, or unreadable: the next build starts afresh


def write_build_state(path: Path, state: BuildState) -> None:
    """Record a successful build (replaced atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(json.dumps(asdict(state)), encoding="utf-8")
    os.replace(staged, path)
