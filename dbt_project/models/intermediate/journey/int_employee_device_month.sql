{{
    config(
        materialized='incremental',
        unique_key='month_start',
        incremental_strategy='replace_extracts',
        partition_by=replaced_partitions('month_start'),
        meta={'extract_date_columns': ['first_extract_date', 'extract_date']},
        on_schema_change='sync_all_columns',
    )
}}
{#- Each (pseudonymous) employee's primary device of each month: the device with the most
    snapshot days that month (ties: the smaller device id), its model and type, the employee's
    mean DEX score on it that month, and its DEX band (macros/dex.sql). Incremental by month:
    a daily run rebuilds the month its extract dates touched from all of that month's
    device-days, instead of ranking a year of them again. The department is joined where the
    months are used (int_employee_journeys_joined): it is today's, and a month built last week
    must not keep last week's. -#}

{%- set month_start = "cast(" ~ dbt.date_trunc('month', 'snapshot_date') ~ " as date)" %}
{#- A warehouse built before this model was incremental holds it without its extract dates (and
    with a department): dbt syncs the columns (on_schema_change), and this run rebuilds every
    month, so no row keeps the old shape's NULLs. -#}
{%- set this_columns = adapter.get_columns_in_relation(this) if execute and is_incremental() else [] %}
{%- set by_month = is_incremental() and (
    'first_extract_date' in (this_columns | map(attribute='name') | map('lower') | list)
) %}

with

{% if by_month -%}
-- The months the run's extract dates touched, and with a window also the months whose rows drew
-- on the window's extracts (a day delivered again may have taken device-days out of them).
touched_months as (

    select distinct {{ month_start }} as month_start
    from {{ ref('int_device_days_scored') }}
    where {{ extract_window_filter('extract_date') }}
    {%- if extract_window() %}

    union

    select month_start
    from {{ this }}
    where {{ from_window_extracts() }}
    {%- endif %}

),

{% endif -%}

device_days as (

    select
        employee_key,
        device_id,
        model,
        device_type,
        {{ month_start }} as month_start,
        dex_score,
        extract_date
    from {{ ref('int_device_days_scored') }}
    where employee_key is not null
    {%- if by_month %}
        and snapshot_date >= (select min(month_start) from touched_months)
        and {{ month_start }} in (select month_start from touched_months)
    {%- endif %}

),

device_months as (

    select
        employee_key,
        month_start,
        device_id,
        -- A device keeps its model; should a snapshot say otherwise, the last name in order.
        max(model) as model,
        max(device_type) as device_type,
        count(*) as device_days,
        avg(dex_score) as dex_score,
        min(extract_date) as first_extract_date,
        max(extract_date) as extract_date
    from device_days
    group by employee_key, month_start, device_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by employee_key, month_start
            order by device_days desc, device_id
        ) as device_rank,
        -- The extract dates of every device-day the choice weighed, not only the chosen
        -- device's: a day delivered again with one of them gone must rebuild the month.
        min(first_extract_date) over (partition by employee_key, month_start)
            as month_first_extract_date,
        max(extract_date) over (partition by employee_key, month_start) as month_extract_date
    from device_months

),

final as (

    select
        employee_key,
        cast(month_start as date) as month_start,
        device_id,
        model,
        device_type,
        cast(device_days as bigint) as device_days,
        cast(dex_score as double) as dex_score,
        {{ dex_band('dex_score') }} as dex_band,
        month_first_extract_date as first_extract_date,
        month_extract_date as extract_date
    from ranked
    where device_rank = 1

)

select * from final
