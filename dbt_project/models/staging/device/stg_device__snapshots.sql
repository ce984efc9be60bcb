with

source as (

    select * from {{ source('raw', 'device_snapshots') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by device_id, snapshot_date
            order by _extract_date desc, _source_line desc
        ) as version_rank
    from source

),

renamed as (

    select
        device_id,
        {{ pseudonymize('employee_id') }} as employee_key,
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
        network_latency_ms
    from ranked
    where version_rank = 1

)

select * from renamed
