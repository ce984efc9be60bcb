with

device_days as (

    select * from {{ ref('stg_device__snapshots') }}

),

employees as (

    select * from {{ ref('stg_directory__employees') }}

),

-- Thresholds (good -> 100, poor -> 0) and their sources are in docs/metrics.md.
scored as (

    select
        device_days.device_id,
        device_days.snapshot_date,
        device_days.employee_key,
        coalesce(employees.department, 'unknown') as department,
        device_days.device_type,
        device_days.model,
        device_days.os_version,
        {{ band_score('device_days.boot_duration_s', 30, 120) }} as boot_score,
        {{ band_score('device_days.logon_duration_s', 20, 60) }} as logon_score,
        {{ band_score('device_days.app_crashes + device_days.app_freezes', 0, 3) }}
            as app_stability_score,
        {{ band_score('device_days.system_crashes', 0, 1) }} as system_stability_score,
        {{ band_score('device_days.cpu_saturation_pct', 5, 30) }} as cpu_score,
        {{ band_score('device_days.memory_saturation_pct', 5, 30) }} as memory_score,
        {{ band_score('device_days.disk_free_pct', 20, 5) }} as disk_score,
        {{ band_score('device_days.battery_health_pct', 80, 60) }} as battery_score
    from device_days
    left join employees
        on device_days.employee_key = employees.employee_key

),

final as (

    select
        *,
        {{ dex_score() }} as dex_score
    from scored

)

select * from final
