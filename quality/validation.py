"""Validate a pandas batch against a GX suite and return evidence a person can act on.

GX 1.x's SQL datasource over duckdb-engine returns empty metric results (GX #10738, #11579),
so the gates ask DuckDB (violation counts, totals, the newest period) and GX judges the small
frame of answers. An expectation that raises while it runs counts as failed, never as passed.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import great_expectations as gx

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


def _gx() -> Any:
    """GX, imported by the first validation: it takes seconds, and a process that loads the
    pipeline's definitions without validating anything (the UI's code server, `xmo status`,
    the CLI's help) should not pay for it."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations

    return great_expectations


def expect_between(
    column: str, min_value: float | None = None, max_value: float | None = None
) -> Any:
    """GX's between expectation (an open side when a bound is None)."""
    return _gx().expectations.ExpectColumnValuesToBeBetween(
        column=column, min_value=min_value, max_value=max_value
    )


def expect_not_null(column: str) -> Any:
    return _gx().expectations.ExpectColumnValuesToNotBeNull(column=column)


def validate_frame(
    frame: pd.DataFrame, name: str, expectations: list, quality_dir: Path | None = None
) -> ValidationOutcome:
    """`validate_dataframe` with a suite named `name` made of `expectations`."""
    suite = _gx().ExpectationSuite(name=name, expectations=expectations)
    return validate_dataframe(frame, suite, quality_dir)


def _quiet(context: Any) -> Any:
    gx = _gx()
    context.variables.progress_bars = gx.data_context.types.base.ProgressBarsConfig(globally=False)
    return context


# One GX context per process for validating: creating one costs tens of milliseconds and a
# run validates dozens of batches. Validating through the file project's checkpoints instead
# cost ~250 ms a batch (stored checkpoint and validation definition, then the site builder,
# which lists every stored result to render one page): most of a gate's time.
_EPHEMERAL: list[Any] = []
# One GX project per quality dir and process: where results, suites and Data Docs are kept.
_FILE_CONTEXTS: dict[Path, Any] = {}
_LATEST_RESULT: dict[Path, Any] = {}
# Quality dirs inside a `data_docs_batch`, with whether a validation in it failed.
_BATCHES: dict[Path, list[bool]] = {}


def _pandas_source() -> Any:
    if not _EPHEMERAL:
        _EPHEMERAL.append(
            _quiet(_gx().get_context(mode="ephemeral")).data_sources.add_pandas("xmo")
        )
    return _EPHEMERAL[0]


def _file_context(quality_dir: Path) -> Any:
    """A GX project under quality_dir whose Data Docs site is quality_dir/docs."""
    quality_dir = quality_dir.resolve()
    if quality_dir in _FILE_CONTEXTS:
        return _FILE_CONTEXTS[quality_dir]
    gx = _gx()
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


def _validate(frame: pd.DataFrame, suite: gx.ExpectationSuite) -> tuple[Any, str]:
    """GX's result for `frame` and the id of the batch it validated."""
    source = _pandas_source()
    asset = _get_or_add(source.get_asset, source.add_dataframe_asset, suite.name)
    batch = _get_or_add(
        asset.get_batch_definition, asset.add_batch_definition_whole_dataframe, "whole"
    ).get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(suite, result_format="SUMMARY"), batch.id


def _keep_with_page(
    quality_dir: Path, suite: gx.ExpectationSuite, result: Any, batch_id: str
) -> Path:
    """Store the suite and result in the quality dir's GX project and write the result's page.

    The page is rendered by the renderer and view GX's site builder uses, straight to the path
    the site's index links to. The index is rebuilt when a validation fails (so the failure is
    listed at once; inside a `data_docs_batch`, once at its end) and by `build_docs_index`.
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    key = quality_dir.resolve()
    context = _file_context(quality_dir)
    context.suites.add_or_update(suite)
    run_id = RunIdentifier(run_time=datetime.now(UTC))
    # What a checkpoint would record, so the page and the index show when it ran.
    result.meta.update(run_id=run_id, validation_time=run_id.run_time)
    identifier = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
        run_id=run_id,
        batch_identifier=batch_id,
    )
    context.validation_results_store.set(identifier, result)
    _LATEST_RESULT[key] = identifier
    page = quality_dir / "docs" / "validations" / Path(*identifier.to_tuple()).with_suffix(".html")
    page.parent.mkdir(parents=True, exist_ok=True)
    renderer, view = _page_renderer()
    page.write_text(
        view.render(renderer.render(result), show_how_to_buttons=False), encoding="utf-8"
    )
    static = quality_dir / "docs" / "static"
    if not static.is_dir():  # the pages' stylesheets, fonts and images, as the site builder copies
        shutil.copytree(Path(_gx().__file__).parent / "render" / "view" / "static", static)
    failed = not result.success
    if key in _BATCHES:
        _BATCHES[key].append(failed)
    elif failed:
        _build_index(quality_dir, identifier)
    return page


@functools.cache
def _page_renderer() -> tuple[Any, Any]:
    """GX's page renderer and view, made once: the view compiles its templates on first use
    (~150 ms), and a run renders dozens of pages."""
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    return ValidationResultsPageRenderer(), DefaultJinjaPageView()


def _build_index(quality_dir: Path, identifier: Any) -> None:
    # GX rebuilds every page when given no identifiers; given the latest, only that one.
    _file_context(quality_dir).build_data_docs(
        site_names=[DOCS_SITE], resource_identifiers=[identifier], build_index=True
    )


@contextmanager
def data_docs_batch(quality_dir: Path) -> Iterator[None]:
    """Rebuild the Data Docs index once at the end of the block if a validation in it failed.

    A step of gates validates several batches; each rebuild of the index lists every stored
    result, so it is done once per step, and only when a failure must be listed at once.
    """
    key = quality_dir.resolve()
    if key in _BATCHES:  # already inside a batch for this dir: the outer one decides
        yield
        return
    _BATCHES[key] = []
    try:
        yield
    finally:
        if any(_BATCHES.pop(key)):
            _build_index(quality_dir, _LATEST_RESULT[key])


def build_docs_index(quality_dir: Path) -> Path | None:
    """Rebuild the Data Docs index once after a run's gates (None: none ran in this process)."""
    identifier = _LATEST_RESULT.get(quality_dir.resolve())
    if identifier is None:
        return None
    _build_index(quality_dir, identifier)
    return quality_dir / "docs" / "index.html"


def validate_dataframe(
    frame: pd.DataFrame, suite: gx.ExpectationSuite, quality_dir: Path | None = None
) -> ValidationOutcome:
    """Run `suite` over `frame`; failures carry counts, a sample of bad values, or the error.

    With `quality_dir`, the suite and result are stored there and the result's Data Docs page
    written under quality_dir/docs (its path is in the outcome).
    """
    result, batch_id = _validate(frame, suite)
    page = None if quality_dir is None else _keep_with_page(quality_dir, suite, result, batch_id)
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
