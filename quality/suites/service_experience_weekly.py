"""Expectations on marts.service_experience_weekly: schema, key, ranges and the low-sample rule."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

SUITE_NAME = "service_experience_weekly"

COLUMNS = (
    "service_id",
    "week_start",
    "responses",
    "happiness_score",
    "avg_lost_time_minutes",
    "total_lost_hours",
    "tickets_resolved",
    "response_rate",
    "mttr_hours",
    "sla_attainment",
    "reopen_rate",
    "low_sample",
)


def build_suite() -> gx.ExpectationSuite:
    expectations: list[gxe.Expectation] = [gxe.ExpectColumnToExist(column=c) for c in COLUMNS]
    expectations += [
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["service_id", "week_start"]),
        *(
            gxe.ExpectColumnValuesToNotBeNull(column=c)
            for c in ("service_id", "week_start", "responses", "tickets_resolved", "low_sample")
        ),
        gxe.ExpectColumnValuesToBeBetween(column="happiness_score", min_value=-100, max_value=100),
        *(
            gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1)
            for c in ("response_rate", "sla_attainment", "reopen_rate")
        ),
        *(
            gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0)
            for c in (
                "mttr_hours",
                "avg_lost_time_minutes",
                "total_lost_hours",
                "responses",
                "tickets_resolved",
            )
        ),
        # Low-sample groups must not publish a score: too few answers identify people.
        gxe.ExpectColumnValuesToBeNull(
            column="happiness_score", row_condition="low_sample == True", condition_parser="pandas"
        ),
    ]
    return gx.ExpectationSuite(name=SUITE_NAME, expectations=expectations)
