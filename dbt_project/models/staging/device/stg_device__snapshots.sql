{{
    config(
        materialized='incremental',
        unique_key=['device_id', 'snapshot_date'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

-- Device-days of the run's extract dates, every version of them: the latest is chosen among
-- all extracts, so re-running an old date never replaces a newer version.
candidates as (

    {{ versions_of_touched_keys(source('raw', 'device_snapshots'), ['device_id', 'snapshot_date']) }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by device_id, snapshot_date
            order by _extract_date desc, _source_line desc
        ) as version_rank
    from candidates

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
        network_latency_ms,
        _extract_date as extract_date
    from ranked
    where version_rank = 1

)

select * from renamed
