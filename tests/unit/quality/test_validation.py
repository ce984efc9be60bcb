"""GX validation returns evidence, and a check that cannot run is never a pass."""

from __future__ import annotations

import re

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
import pytest

from quality.validation import build_docs_index, data_docs_batch, validate_dataframe


def WEEKLY() -> gx.ExpectationSuite:
    """A weekly-mart suite of the kinds quality/gates.py builds."""
    return gx.ExpectationSuite(
        name="weekly",
        expectations=[
            *(gxe.ExpectColumnToExist(column=c) for c in ("service_id", "week_start")),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["service_id", "week_start"]),
            gxe.ExpectColumnValuesToNotBeNull(column="service_id"),
            gxe.ExpectColumnValuesToBeBetween(
                column="happiness_score", min_value=-100, max_value=100
            ),
            *(
                gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1)
                for c in ("response_rate", "sla_attainment", "reopen_rate")
            ),
            gxe.ExpectColumnValuesToBeBetween(column="mttr_hours", min_value=0),
            gxe.ExpectColumnValuesToBeNull(
                column="happiness_score",
                row_condition="low_sample == True",
                condition_parser="pandas",
            ),
        ],
    )


def weekly_frame(**overrides) -> pd.DataFrame:
    row = {
        "service_id": "SVC01",
        "week_start": pd.Timestamp("2026-03-02"),
        "responses": 6,
        "happiness_score": 50.0,
        "avg_lost_time_minutes": 30.0,
        "total_lost_hours": 3.0,
        "tickets_resolved": 20,
        "response_rate": 0.3,
        "mttr_hours": 12.0,
        "sla_attainment": 0.9,
        "reopen_rate": 0.05,
        "low_sample": False,
    }
    second = {
        **row,
        "service_id": "SVC02",
        "responses": 3,
        "happiness_score": None,
        "avg_lost_time_minutes": None,
        "total_lost_hours": None,
        "low_sample": True,
    }
    frame = pd.DataFrame([row, second])
    for column, value in overrides.items():
        frame.loc[0, column] = value
    return frame


def test_a_valid_weekly_mart_passes_every_expectation():
    outcome = validate_dataframe(weekly_frame(), WEEKLY())
    assert outcome.success
    assert outcome.evaluated == 10
    assert outcome.failures == []


@pytest.mark.parametrize(
    ("column", "value", "expectation"),
    [
        ("happiness_score", 150.0, "expect_column_values_to_be_between"),
        ("response_rate", 1.5, "expect_column_values_to_be_between"),
        ("mttr_hours", -1.0, "expect_column_values_to_be_between"),
        ("service_id", None, "expect_column_values_to_not_be_null"),
    ],
)
def test_a_bad_value_fails_with_its_expectation_and_a_sample(column, value, expectation):
    outcome = validate_dataframe(weekly_frame(**{column: value}), WEEKLY())
    assert not outcome.success
    failed = [f for f in outcome.failures if f.column == column]
    assert [f.expectation for f in failed] == [expectation]
    if value is not None:
        assert failed[0].sample == [value]
        assert failed[0].unexpected_count == 1


def test_a_low_sample_row_that_publishes_a_score_fails():
    frame = weekly_frame()
    frame.loc[1, "happiness_score"] = 100.0
    outcome = validate_dataframe(frame, WEEKLY())
    assert [f.expectation for f in outcome.failures] == ["expect_column_values_to_be_null"]


def test_a_duplicate_key_fails():
    frame = weekly_frame()
    frame.loc[1, "service_id"] = "SVC01"
    outcome = validate_dataframe(frame, WEEKLY())
    assert "expect_compound_columns_to_be_unique" in [f.expectation for f in outcome.failures]


def test_an_expectation_that_raises_is_reported_failed_with_its_error():
    # Regression guard for GX paths that error instead of evaluating: a missing column makes
    # the range expectation raise inside GX; that must surface as a failure, not a pass.
    suite = gx.ExpectationSuite(
        name="raises",
        expectations=[gxe.ExpectColumnValuesToBeBetween(column="no_such_column", min_value=0)],
    )
    outcome = validate_dataframe(pd.DataFrame({"x": [1]}), suite)
    assert not outcome.success
    assert outcome.failures[0].error
    assert "raised" in outcome.failures[0].describe()


def test_an_empty_suite_is_not_a_pass():
    outcome = validate_dataframe(pd.DataFrame({"x": [1]}), gx.ExpectationSuite(name="empty"))
    assert outcome.evaluated == 0
    assert not outcome.success


def test_with_a_quality_dir_every_validation_gets_a_data_docs_page(tmp_path):
    outcome = validate_dataframe(weekly_frame(happiness_score=150.0), WEEKLY(), tmp_path)
    assert not outcome.success
    assert outcome.docs_page is not None and outcome.docs_page.is_file()
    assert outcome.docs_page.is_relative_to(tmp_path / "docs")
    page = outcome.docs_page.read_text()
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "values must be greater than or equal to -100.0 and less than or equal to 100.0" in text
    assert "Unexpected Value Count 150.0 1" in text
    assert "Status: Failed" in text and "Run Time __none__" not in text
    # GX's stylesheets, fonts and images are in the site, as its site builder copies them.
    assert (tmp_path / "docs" / "static" / "styles" / "data_docs_default_styles.css").is_file()
    # The failure rebuilt the index, and the page's link back to it resolves.
    assert (outcome.docs_page.parent / "../../../../index.html").resolve().is_file()
    assert '"../../../../index.html"' in page
    assert (tmp_path / "docs" / "index.html").is_file()
    # A second validation of the same suite adds a page and keeps the first.
    again = validate_dataframe(weekly_frame(), WEEKLY(), tmp_path)
    assert again.success and again.docs_page != outcome.docs_page and outcome.docs_page.exists()


def test_a_passing_gate_renders_only_its_page_and_the_index_is_built_once_after(tmp_path):
    # The index lists every stored result; rebuilding it per gate grew with the history.
    first = validate_dataframe(weekly_frame(), WEEKLY(), tmp_path)
    second = validate_dataframe(weekly_frame(), WEEKLY(), tmp_path)
    assert first.docs_page.is_file() and second.docs_page.is_file()
    assert not (tmp_path / "docs" / "index.html").exists()

    index = build_docs_index(tmp_path)

    listed = index.read_text()
    for outcome in (first, second):
        assert outcome.docs_page.relative_to(tmp_path / "docs").as_posix() in listed


def test_a_failing_gate_is_listed_in_the_index_at_once(tmp_path):
    validate_dataframe(weekly_frame(), WEEKLY(), tmp_path)
    failed = validate_dataframe(weekly_frame(happiness_score=150.0), WEEKLY(), tmp_path)
    listed = (tmp_path / "docs" / "index.html").read_text()
    assert failed.docs_page.relative_to(tmp_path / "docs").as_posix() in listed


def test_no_index_is_built_when_no_gate_ran(tmp_path):
    assert build_docs_index(tmp_path / "elsewhere") is None


def test_a_batch_with_a_failure_rebuilds_the_index_once_when_it_ends(tmp_path):
    with data_docs_batch(tmp_path):
        passed = validate_dataframe(weekly_frame(), WEEKLY(), tmp_path)
        failed = validate_dataframe(weekly_frame(happiness_score=150.0), WEEKLY(), tmp_path)
        assert passed.docs_page.is_file() and "150" in failed.docs_page.read_text()
        assert not (tmp_path / "docs" / "index.html").exists()
    # One of them failed, so the index lists the failure at once, as outside a batch.
    listed = (tmp_path / "docs" / "index.html").read_text()
    assert failed.docs_page.relative_to(tmp_path / "docs").as_posix() in listed


def test_a_batch_of_passing_validations_leaves_the_index_alone(tmp_path):
    with data_docs_batch(tmp_path):
        outcome = validate_dataframe(weekly_frame(), WEEKLY(), tmp_path)
    assert outcome.docs_page.is_file()
    assert not (tmp_path / "docs" / "index.html").exists()
