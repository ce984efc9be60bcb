{{
    config(
        materialized='incremental',
        unique_key=['device_id', 'snapshot_date'],
        incremental_strategy='replace_extracts',
        partition_by=replaced_partitions('extract_date'),
        meta={'extract_date_columns': 'extract_date'},
        on_schema_change='fail',
    )
}}

with

-- The latest version of each device-day of the run's extract dates, chosen among all extracts
-- (staging shows every delivered version), so re-running an old date never replaces a newer
-- version. With a window, the device-days this model took from the window's extracts are
-- chosen again: a day delivered again may have lost them (those without any version left go
-- with the window's rows, replace_extracts).
device_days as (

    {{ latest_versions(
        ref('stg_device__snapshots'),
        ['device_id', 'snapshot_date'],
        'extract_date desc, source_line desc',
        version=['extract_date', 'source_file', 'source_line'],
    ) }}

),

-- Thresholds (good -> 100, poor -> 0) and their sources are in docs/metrics.md.
scored as (

    select
        device_id,
        snapshot_date,
        employee_key,
        device_type,
        model,
        os_version,
        extract_date,
        {{ band_score('boot_duration_s', 30, 120) }} as boot_score,
        {{ band_score('logon_duration_s', 20, 60) }} as logon_score,
        {{ band_score('app_crashes + app_freezes', 0, 3) }} as app_stability_score,
        {{ band_score('system_crashes', 0, 1) }} as system_stability_score,
        {{ band_score('cpu_saturation_pct', 5, 30) }} as cpu_score,
        {{ band_score('memory_saturation_pct', 5, 30) }} as memory_score,
        {{ band_score('disk_free_pct', 20, 5) }} as disk_score,
        {{ band_score('battery_health_pct', 80, 60) }} as battery_score
    from device_days

),

final as (

    select
        *,
        {{ dex_score() }} as dex_score
    from scored

)

select * from final
