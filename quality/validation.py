"""Validate a pandas batch against a GX suite and return evidence a person can act on.

GX 1.x's SQL datasource over duckdb-engine returns empty metric results (GX #10738, #11579),
so tables are read from DuckDB into pandas and validated as a dataframe batch. An expectation
that raises while it runs counts as failed, never as passed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd

log = logging.getLogger(__name__)

SAMPLE_SIZE = 5


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str
    column: str | None
    unexpected_count: int | None
    sample: list[Any]
    error: str | None = None

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        if self.error:
            return f"{self.expectation}{where} raised: {self.error}"
        count = (
            f"{self.unexpected_count} unexpected" if self.unexpected_count is not None else "failed"
        )
        sample = f", e.g. {self.sample}" if self.sample else ""
        return f"{self.expectation}{where}: {count}{sample}"


@dataclass(frozen=True)
class ValidationOutcome:
    suite: str
    rows: int
    evaluated: int
    failures: list[FailedExpectation] = field(default_factory=list)
    docs_page: Path | None = None

    @property
    def success(self) -> bool:
        return self.evaluated > 0 and not self.failures


DOCS_SITE = "xmo"


def _quiet(context: Any) -> Any:
    context.variables.progress_bars = gx.data_context.types.base.ProgressBarsConfig(globally=False)
    return context


def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    return _quiet(gx.get_context(mode="ephemeral"))


# One GX project per quality dir and process: opening it reads every stored suite, checkpoint
# and validation definition (about a second), and a Dagster run evaluates dozens of gates in
# one process.
_FILE_CONTEXTS: dict[Path, Any] = {}
_LATEST_RESULT: dict[Path, Any] = {}
# Results whose Data Docs pages wait for the end of a `data_docs_batch`, per quality dir.
_PENDING_PAGES: dict[Path, list[tuple[Any, bool]]] = {}


def _file_context(quality_dir: Path) -> Any:
    """A GX project under quality_dir whose Data Docs site is quality_dir/docs."""
    quality_dir = quality_dir.resolve()
    if quality_dir in _FILE_CONTEXTS:
        return _FILE_CONTEXTS[quality_dir]
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    quality_dir.mkdir(parents=True, exist_ok=True)
    context = _quiet(gx.get_context(mode="file", project_root_dir=str(quality_dir)))
    if DOCS_SITE not in context.get_site_names():
        context.add_data_docs_site(
            site_name=DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(quality_dir / "docs"),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    _FILE_CONTEXTS[quality_dir] = context
    return context


def _get_or_add(getter: Any, adder: Any, name: str) -> Any:
    try:
        return getter(name)
    except Exception:  # GX raises several lookup errors; any of them means "not there yet"
        return adder(name)


def _validate_with_docs(
    frame: pd.DataFrame, suite: gx.ExpectationSuite, quality_dir: Path
) -> tuple[Any, Path]:
    """Validate through a checkpoint that stores the result, then build its Data Docs page.

    Only the result's own page is rendered: the site index lists every stored result, so
    rebuilding it after each gate would cost more every day the pipeline runs. The index is
    rebuilt when a gate fails (so the failure is listed at once) and by `build_docs_index`.
    Inside a `data_docs_batch` the page is rendered when the batch ends.
    """
    context = _file_context(quality_dir)
    source = _get_or_add(context.data_sources.get, context.data_sources.add_pandas, "xmo")
    asset = _get_or_add(source.get_asset, source.add_dataframe_asset, suite.name)
    batch_definition = _get_or_add(
        asset.get_batch_definition, asset.add_batch_definition_whole_dataframe, "whole"
    )
    suite = context.suites.add_or_update(suite)
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=suite.name,
            validation_definitions=[definition],
            result_format={"result_format": "SUMMARY"},
        )
    )
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    identifier, result = next(iter(run.run_results.items()))
    _LATEST_RESULT[quality_dir.resolve()] = identifier
    pending = _PENDING_PAGES.get(quality_dir.resolve())
    if pending is not None:
        pending.append((identifier, bool(result.success)))
    else:
        _build_pages(quality_dir, [identifier], index=not result.success)
    page = quality_dir / "docs" / "validations" / Path(*identifier.to_tuple()).with_suffix(".html")
    return result, page


def _build_pages(quality_dir: Path, identifiers: list[Any], index: bool) -> None:
    _file_context(quality_dir).build_data_docs(
        site_names=[DOCS_SITE], resource_identifiers=identifiers, build_index=index
    )


@contextmanager
def data_docs_batch(quality_dir: Path) -> Iterator[None]:
    """Render the Data Docs pages of the validations inside the block together, at its end.

    GX renders a dozen pages in one call in about the time one page takes alone (it sets up
    its templates once per call), and a run's gates validate a few dozen batches. The index is
    rebuilt when one of them failed, as it is for a single validation.
    """
    key = quality_dir.resolve()
    if key in _PENDING_PAGES:  # already inside a batch for this dir: the outer one renders
        yield
        return
    _PENDING_PAGES[key] = []
    try:
        yield
    finally:
        pending = _PENDING_PAGES.pop(key)
        if pending:
            _build_pages(
                quality_dir,
                [identifier for identifier, _ in pending],
                index=not all(success for _, success in pending),
            )


def build_docs_index(quality_dir: Path) -> Path | None:
    """Rebuild the Data Docs index once after a run's gates (None: none ran in this process)."""
    identifier = _LATEST_RESULT.get(quality_dir.resolve())
    if identifier is None:
        return None
    # GX rebuilds every page when given no identifiers; given the latest, only that one.
    _build_pages(quality_dir, [identifier], index=True)
    return quality_dir / "docs" / "index.html"


def validate_dataframe(
    frame: pd.DataFrame, suite: gx.ExpectationSuite, quality_dir: Path | None = None
) -> ValidationOutcome:
    """Run `suite` over `frame`; failures carry counts, a sample of bad values, or the error.

    With `quality_dir`, the result is stored there and its Data Docs page built under
    quality_dir/docs, at once or at the end of the enclosing `data_docs_batch` (the page's path
    is in the outcome).
    """
    page = None
    if quality_dir is None:
        batch = (
            _context()
            .data_sources.add_pandas("xmo")
            .add_dataframe_asset(suite.name)
            .add_batch_definition_whole_dataframe("whole")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        result = batch.validate(suite)
    else:
        result, page = _validate_with_docs(frame, suite, quality_dir)
    failures: list[FailedExpectation] = []
    for item in result.results:
        config = item.expectation_config
        column = config.kwargs.get("column")
        error = _raised_error(item.exception_info)
        if error is not None:
            failures.append(FailedExpectation(config.type, column, None, [], error))
        elif not item.success:
            details = item.result or {}
            sample = [plain_value(v) for v in (details.get("partial_unexpected_list") or [])][
                :SAMPLE_SIZE
            ]
            failures.append(
                FailedExpectation(config.type, column, details.get("unexpected_count"), sample)
            )
    outcome = ValidationOutcome(suite.name, len(frame), len(result.results), failures, page)
    log.info(
        "suite %s on %s rows: %s expectations, %s failed",
        suite.name,
        outcome.rows,
        outcome.evaluated,
        len(failures),
    )
    return outcome


def _raised_error(info: Any) -> str | None:
    """The error an expectation raised, if any.

    GX reports it either flat ({"raised_exception": True, ...}) or, when metrics failed, as one
    such dict per metric; both shapes must count as a failure.
    """
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "unknown error")
    for nested in info.values():
        if isinstance(nested, dict) and nested.get("raised_exception"):
            return str(nested.get("exception_message") or "unknown error")
    return None


def plain_value(value: Any) -> Any:
    """JSON-friendly sample values for metadata."""
    if isinstance(value, dict | list | str | int | float | bool) or value is None:
        return value
    return str(value)
