-- Shown in Dagster as a check on the mart it guards (it reads two models).
{{ config(meta={'dagster': {'ref': {'name': 'experience_changes'}}}) }}
-- A returned row is a tested week whose value is not the weekly mart's published figure for
-- that service and week, or a test of a week the weekly mart calls low sample.
with

changes as (

    select * from {{ ref('experience_changes') }}

),

weekly as (

    select * from {{ ref('service_experience_weekly') }}

)

select
    changes.service_id,
    changes.week_start,
    changes.indicator,
    changes.reference_kind,
    changes.value,
    weekly.happiness_score,
    weekly.avg_lost_time_minutes,
    weekly.low_sample
from changes
left join weekly
    on changes.service_id = weekly.service_id
    and changes.week_start = weekly.week_start
where weekly.service_id is null
    or weekly.low_sample
    or abs(changes.value - case
        when changes.indicator = 'happiness_score' then weekly.happiness_score
        else weekly.avg_lost_time_minutes
    end) > 1e-9
    or case
        when changes.indicator = 'happiness_score' then weekly.happiness_score
        else weekly.avg_lost_time_minutes
    end is null
