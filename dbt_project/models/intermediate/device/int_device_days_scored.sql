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

device_days as (

    select * from {{ ref('stg_device__snapshots') }}
    {% if is_incremental() -%}
    where {{ extract_window_filter('extract_date') }}
    {%- endif %}
    {%- if is_incremental() and extract_window() %}

    -- The device-days scored from the window's extracts that staging now takes from another
    -- extract (a day delivered again lost their version); those it lost altogether go with the
    -- window's rows (replace_extracts). A join, not an `or` in the filter above: that would
    -- read every staged device-day on each daily run.
    union all

    select staged.*
    from {{ ref('stg_device__snapshots') }} as staged
    inner join (
        select
            device_id,
            snapshot_date
        from {{ this }}
        where {{ from_window_extracts() }}
    ) as rescored
        on staged.device_id = rescored.device_id
        and staged.snapshot_date = rescored.snapshot_date
    where not ({{ from_window_extracts('staged.extract_date') }})
    {%- endif %}

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
