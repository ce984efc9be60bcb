{{ config(materialized="table") }}
{#- Each (pseudonymous) employee's primary device of each month: the device with the most
    snapshot days that month (ties: the smaller device id), its model and type, the employee's
    mean DEX score on it that month, and its DEX band (macros/dex.sql). -#}
with

device_days as (

    select
        employee_key,
        device_id,
        model,
        device_type,
        cast({{ dbt.date_trunc('month', 'snapshot_date') }} as date) as month_start,
        dex_score
    from {{ ref('int_device_days_scored') }}
    where employee_key is not null

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
        avg(dex_score) as dex_score
    from device_days
    group by employee_key, month_start, device_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by employee_key, month_start
            order by device_days desc, device_id
        ) as device_rank
    from device_months

),

employees as (

    select employee_key, department from {{ ref('stg_directory__employees') }}

),

final as (

    select
        ranked.employee_key,
        cast(ranked.month_start as date) as month_start,
        ranked.device_id,
        ranked.model,
        ranked.device_type,
        cast(ranked.device_days as bigint) as device_days,
        cast(ranked.dex_score as double) as dex_score,
        {{ dex_band('ranked.dex_score') }} as dex_band,
        -- An employee the directory does not list (yet) is still counted, never dropped.
        coalesce(employees.department, 'unknown') as department
    from ranked
    left join employees
        on ranked.employee_key = employees.employee_key
    where ranked.device_rank = 1

)

select * from final
