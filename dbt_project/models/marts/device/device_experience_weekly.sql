with

scored_days as (

    select * from {{ ref('int_device_days_scored') }}

),

employees as (

    select * from {{ ref('stg_directory__employees') }}

),

-- Departments come from the latest directory snapshot at build time, so a move between
-- departments re-groups history the same way a full refresh would.
device_days as (

    select
        scored_days.*,
        coalesce(employees.department, 'unknown') as department,
        cast({{ dbt.date_trunc('week', 'scored_days.snapshot_date') }} as date) as week_start
    from scored_days
    left join employees
        on scored_days.employee_key = employees.employee_key

),

by_group_week as (

    select
        department,
        model,
        week_start,
        count(distinct device_id) as devices,
        count(*) as device_days,
        avg(dex_score) as dex_score,
        avg(boot_score) as boot_score,
        avg(logon_score) as logon_score,
        avg(app_stability_score) as app_stability_score,
        avg(system_stability_score) as system_stability_score,
        avg(cpu_score) as cpu_score,
        avg(memory_score) as memory_score,
        avg(disk_score) as disk_score,
        avg(battery_score) as battery_score
    from device_days
    group by department, model, week_start

),

-- Fewer than 5 devices: too few to compare and too close to identifying a person.
final as (

    select
        cast(department as varchar) as department,
        cast(model as varchar) as model,
        cast(week_start as date) as week_start,
        cast(devices as bigint) as devices,
        cast(device_days as bigint) as device_days,
        {% for column in ['dex_score', 'boot_score', 'logon_score', 'app_stability_score',
                          'system_stability_score', 'cpu_score', 'memory_score', 'disk_score',
                          'battery_score'] -%}
        cast(case when devices >= 5 then {{ column }} end as double) as {{ column }},
        {% endfor -%}
        cast(devices < 5 as boolean) as low_sample
    from by_group_week

)

select * from final
