{{
    config(
        materialized='incremental',
        incremental_strategy='replace_periods',
        meta={'period_column': 'month_start', 'touched_by': 'proactive', 'period_grain': 'month'},
        on_schema_change='fail',
    )
}}
with

proactive_responses as (

    select
        topic,
        cast({{ dbt.date_trunc('month', 'responded_at') }} as date) as month_start,
        happiness,
        lost_time_minutes
    from {{ ref('int_survey_responses_joined_to_tickets') }}
    where survey_type = 'proactive'
        and {{ in_touched_periods('cast(' ~ dbt.date_trunc('month', 'responded_at') ~ ' as date)') }}

),

by_topic_month as (

    select
        topic,
        month_start,
        {{ experience_counts('happiness', 'lost_time_minutes') }},
        {{ happiness_score('happiness', 'count(*)') }} as happiness_score,
        {{ when_enough_responses('count(*)', 'avg(lost_time_minutes)') }} as avg_lost_time_minutes,
        {{ when_enough_responses('count(*)', 'cast(sum(lost_time_minutes) as double) / 60') }} as total_lost_hours
    from proactive_responses
    group by topic, month_start

),

final as (

    select
        cast(topic as {{ dbt.type_string() }}) as topic,
        cast(month_start as date) as month_start,
        cast(responses as bigint) as responses,
        cast(happiness_score as double) as happiness_score,
        cast(avg_lost_time_minutes as double) as avg_lost_time_minutes,
        cast(total_lost_hours as double) as total_lost_hours,
        cast(responses < {{ var('min_responses') }} as boolean) as low_sample,
        {{ experience_intervals('by_topic_month', 'happiness_score', 'avg_lost_time_minutes') }}
    from by_topic_month

)

select * from final
