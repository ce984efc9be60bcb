{#- on_schema_change: first_extract_date came later; a warehouse built before gains the column
    (NULL in its rows, read as their extract_date) instead of failing its next run. -#}
{{
    config(
        materialized='incremental',
        unique_key='week_start',
        incremental_strategy='replace_extracts',
        partition_by=replaced_partitions('week_start'),
        meta={'extract_date_columns': ['first_extract_date', 'extract_date']},
        on_schema_change='append_new_columns',
    )
}}

{#- Sums and counts, not averages: the mart re-groups these rows by the employee's current
    department and divides, which equals averaging the device-days themselves. A year of
    device-days shrinks about sevenfold, and a daily run rewrites only the weeks it touched. -#}

{%- set week_start = "cast(" ~ dbt.date_trunc('week', 'snapshot_date') ~ " as date)" %}
{#- This model's rows from the window's extracts, read before dbt adds first_extract_date to a
    table built without it. -#}
{%- set this_columns = adapter.get_columns_in_relation(this) if execute and is_incremental() else [] %}
{%- set extract_date_columns = (
    ['first_extract_date', 'extract_date']
    if 'first_extract_date' in (this_columns | map(attribute='name') | map('lower') | list)
    else 'extract_date'
) %}

with

{% if is_incremental() -%}
-- The weeks the run's extract dates touched: each is rebuilt from all of its days. Both CTEs
-- read int_device_days_scored itself (DuckDB materializes a CTE read twice, whole), and the date
-- bounds let it skip the rest of the year. With a window, also the weeks whose rows drew on
-- the window's extracts (first_extract_date .. extract_date): a day delivered again may have
-- taken device-days out of them.
touched_weeks as (

    select distinct {{ week_start }} as week_start
    from {{ ref('int_device_days_scored') }}
    where {{ extract_window_filter('extract_date') }}
    {%- if extract_window() %}

    union

    select week_start
    from {{ this }}
    where {{ from_window_extracts(extract_date_columns) }}
    {%- endif %}

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
{%- endif %}

summed as (

    {#- A full build sums a few weeks at a time (macros/week_chunks.sql); each chunk reads the
        device-days itself, as a CTE read by several branches would be materialized whole. #}
    {%- for chunk in week_chunks(ref('int_device_days_scored'), 'snapshot_date') %}
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
        min(extract_date) as first_extract_date,
        max(extract_date) as extract_date
    {%- if is_incremental() %}
    from week_days
    {%- else %}
    from (
        select
            *,
            {{ week_start }} as week_start
        from {{ ref('int_device_days_scored') }}
        where {{ in_chunk('snapshot_date', chunk) }}
    ) as week_days
    {%- endif %}
    group by week_start, device_id, employee_key, model
    {%- if not loop.last %}

    union all
    {% endif %}
    {%- endfor %}

)

select * from summed
