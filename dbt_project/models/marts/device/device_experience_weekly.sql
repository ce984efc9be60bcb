{{
    config(
        materialized='incremental',
        incremental_strategy='replace_periods',
        meta={'period_column': 'week_start', 'touched_by': 'device', 'period_grain': 'week'},
        on_schema_change='fail',
    )
}}
with

device_weeks as (

    select * from {{ ref('int_device_weeks_summed') }}
    where {{ in_touched_periods('week_start') }}

),

employees as (

    select * from {{ ref('stg_directory__employees') }}

),

-- Departments come from the latest directory snapshot at build time, so a move between
-- departments re-groups history the same way a full refresh would.
device_weeks_by_department as (

    select
        device_weeks.*,
        coalesce(employees.department, 'unknown') as department
    from device_weeks
    left join employees
        on device_weeks.employee_key = employees.employee_key

),

-- Sum over count of each score: the mean of the device-days, nulls left out as avg does.
by_group_week as (

    select
        department,
        model,
        week_start,
        count(distinct device_id) as devices,
        sum(device_days) as device_days,
        {% for column in device_score_columns() -%}
        sum({{ column }}_sum) / nullif(sum({{ column }}_count), 0) as {{ column }},
        {% endfor -%}
        -- The components the group's scores were computed over: a source measures what it
        -- measures (Intune: no CPU, memory or disk), and the score is re-weighted over those.
        concat_ws(',',
            {% for column in dex_weights() -%}
            case when sum({{ column }}_count) > 0 then '{{ column | replace('_score', '') }}' end{{ ',' if not loop.last }}
            {% endfor -%}
        ) as dex_components
    from device_weeks_by_department
    group by department, model, week_start

),

-- Fewer than 5 devices: too few to compare and too close to identifying a person.
final as (

    select
        cast(department as {{ dbt.type_string() }}) as department,
        cast(model as {{ dbt.type_string() }}) as model,
        cast(week_start as date) as week_start,
        cast(devices as bigint) as devices,
        cast(device_days as bigint) as device_days,
        {% for column in device_score_columns() -%}
        cast(case when devices >= 5 then {{ column }} end as double) as {{ column }},
        {% endfor -%}
        cast(case when devices >= 5 then dex_components end as {{ dbt.type_string() }}) as dex_components,
        cast(devices < 5 as boolean) as low_sample
    from by_group_week

)

select * from final
