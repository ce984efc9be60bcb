{{
    config(
        materialized='incremental',
        unique_key='week_start',
        incremental_strategy=incremental_strategy(),
        full_refresh=rebuilds_in_full(),
        on_schema_change='fail',
    )
}}

{#- Sums and counts, not averages: the mart re-groups these rows by the employee's current
    department and divides, which equals averaging the device-days themselves. A year of
    device-days shrinks about sevenfold, and a daily run rewrites only the weeks it touched. -#}

{%- set week_start = "cast(" ~ dbt.date_trunc('week', 'snapshot_date') ~ " as date)" %}

with

{% if is_incremental() -%}
-- The weeks the run's extract dates touched: each is rebuilt from all of its days. Both CTEs
-- read int_device_days_scored itself (DuckDB materializes a CTE read twice, whole), and the date
-- bounds let it skip the rest of the year.
touched_weeks as (

    select distinct {{ week_start }} as week_start
    from {{ ref('int_device_days_scored') }}
    where {{ extract_window_filter('extract_date') }}

),

week_days as (

    select
        *,
        {{ week_start }} as week_start
    from {{ ref('int_device_days_scored') }}
    where snapshot_date >= (select min(week_start) from touched_weeks)
        and snapshot_date < (select max(week_start) from touched_weeks) + 7
        and {{ week_start }} in (select week_start from touched_weeks)

),
{%- else -%}
week_days as (

    select
        *,
        {{ week_start }} as week_start
    from {{ ref('int_device_days_scored') }}

),
{%- endif %}

summed as (

    select
        week_start,
        device_id,
        employee_key,
        model,
        count(*) as device_days,
        {% for column in device_score_columns() -%}
        sum({{ column }}) as {{ column }}_sum,
        count({{ column }}) as {{ column }}_count,
        {% endfor -%}
        max(extract_date) as extract_date
    from week_days
    group by week_start, device_id, employee_key, model

)

select * from summed
