-- Shown in Dagster as a check on the mart it guards (it reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'service_experience_weekly'}}}) }}
-- A returned row is a published interval that does not contain its own score or mean, in any
-- experience mart or on either side of experience_changes (issue 18's gate). The tolerance only
-- absorbs the last bit of floating-point rounding.
{%- set marts = [
    ('service_experience_weekly', "service_id || ' ' || cast(week_start as string)"),
    ('service_experience_monthly', "service_id || ' ' || cast(month_start as string)"),
    ('channel_experience_monthly', "channel || ' ' || ticket_type || ' ' || cast(month_start as string)"),
    ('proactive_experience_monthly', "topic || ' ' || cast(month_start as string)"),
] %}
with

intervals as (

    {% for mart, cell in marts -%}
    select
        '{{ mart }}' as mart,
        {{ cell }} as cell,
        'happiness_score' as indicator,
        happiness_score as value,
        happiness_ci_low as ci_low,
        happiness_ci_high as ci_high
    from {{ ref(mart) }}
    union all
    select
        '{{ mart }}' as mart,
        {{ cell }} as cell,
        'avg_lost_time_minutes' as indicator,
        avg_lost_time_minutes as value,
        lost_time_ci_low as ci_low,
        lost_time_ci_high as ci_high
    from {{ ref(mart) }}
    union all
    {% endfor -%}
    select
        'experience_changes' as mart,
        service_id || ' ' || cast(week_start as string) || ' ' || reference_kind as cell,
        indicator,
        value,
        value_ci_low as ci_low,
        value_ci_high as ci_high
    from {{ ref('experience_changes') }}
    union all
    select
        'experience_changes (reference)' as mart,
        service_id || ' ' || cast(week_start as string) || ' ' || reference_kind as cell,
        indicator,
        reference_value as value,
        reference_ci_low as ci_low,
        reference_ci_high as ci_high
    from {{ ref('experience_changes') }}

)

select *
from intervals
where ci_low > value + 1e-9
    or ci_high < value - 1e-9
    -- an interval is published exactly where its score is (NULL together)
    or (ci_low is null) <> (ci_high is null)
    or (ci_low is not null and value is null)
