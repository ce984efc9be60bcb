-- Shown in Dagster as a check on the model it guards (it reads two models).
{{ config(meta={'dagster': {'ref': {'name': 'int_device_weeks_summed'}}}) }}
-- A returned row means a week was summed twice or lost in a daily run's rebuild: the weeks'
-- device-days and DEX counts differ from the scored device-days. Totals, not a grouping of the
-- year's device-days by week: this runs in every daily build.
with

weeks as (

    select
        coalesce(sum(device_days), 0) as device_days,
        coalesce(sum(dex_score_count), 0) as dex_scores
    from {{ ref('int_device_weeks_summed') }}

),

days as (

    select
        count(*) as device_days,
        count(dex_score) as dex_scores
    from {{ ref('int_device_days_scored') }}

)

select
    weeks.device_days as summed_device_days,
    days.device_days as scored_device_days,
    weeks.dex_scores as summed_dex_scores,
    days.dex_scores as scored_dex_scores
from weeks
cross join days
where weeks.device_days <> days.device_days
    or weeks.dex_scores <> days.dex_scores
