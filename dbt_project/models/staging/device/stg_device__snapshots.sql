{#- A view, not a table: every delivered version of every device-day, renamed and pseudonymised.
    The device history is stored once, in int_device_days_scored, which keeps the latest version
    of each device-day: a staged copy wrote a year of device-days (36 M rows at the benchmark's L)
    a second time on every full refresh. The employee is hashed per row, and a view computes
    only the rows a reader asks for: a daily run hashes its day's rows, not the year's. -#}
{{ config(materialized='view') }}

with

renamed as (

    select
        device_id,
        {{ pseudonymize('employee_id') }} as employee_key,
        -- Intune names the user, not the employee: the directory's user principal name, hashed
        -- the same way, turns it into the employee (int_device_days_scored).
        {{ pseudonymize("lower(nullif(trim(user_principal_name), ''))") }} as user_principal_key,
        snapshot_date,
        lower(device_type) as device_type,
        model,
        os_version,
        boot_duration_s,
        logon_duration_s,
        app_crashes,
        app_freezes,
        system_crashes,
        cpu_saturation_pct,
        memory_saturation_pct,
        disk_free_pct,
        battery_health_pct,
        network_latency_ms,
        app_crashes_30d,
        app_freezes_30d,
        system_crashes_30d,
        _extract_date as extract_date,
        _source_file as source_file,
        _source_line as source_line
    from {{ source('raw', 'device_snapshots') }}

)

select * from renamed
