{{
    config(
        materialized='incremental',
        unique_key=['device_id', 'snapshot_date'],
        incremental_strategy=incremental_strategy(),
        meta={'extract_date_columns': 'extract_date'},
        full_refresh=rebuilds_in_full(),
        on_schema_change='fail',
    )
}}

with

-- The latest version of each device-day of the run's extract dates, chosen among all
-- extracts, so re-running an old date never replaces a newer version.
latest as (

    {{ latest_versions(
        source('raw', 'device_snapshots'),
        ['device_id', 'snapshot_date'],
        '_extract_date desc, _source_line desc',
    ) }}

),

-- Each employee hashed once, not once per device-day (36 M SHA-256s on a full build).
employee_keys as (

    select
        employee_id,
        {{ pseudonymize('employee_id') }} as employee_key
    from (
        select distinct employee_id
        from ({{ versions_of_touched_keys(source('raw', 'device_snapshots'), ['device_id', 'snapshot_date']) }}) as versions
    ) as employees

),

renamed as (

    select
        latest.device_id,
        employee_keys.employee_key,
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
        _extract_date as extract_date
    from latest
    left join employee_keys
        on latest.employee_id = employee_keys.employee_id

)

select * from renamed
