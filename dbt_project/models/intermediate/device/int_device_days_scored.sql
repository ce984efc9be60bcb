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

{#- The day before a device-day, for the differences of 30-day totals. -#}
{%- set previous_day = day_before('device_days.snapshot_date') %}

-- Intune reports 30-day totals, not the day's counts. The day's count is the difference from
-- the device's previous day's totals (never below 0), or the total / 30 on its first day or
-- after a gap (docs/metrics.md). A daily run finds the previous day in this model's own table.
-- Where no device reports totals (a Nexthink estate) no day needs its previous one, and the
-- join of every device-day with the day before (74 s of a year of 100,000 devices) is left out.
previous_totals as (

    select device_id, snapshot_date, app_crashes_30d, app_freezes_30d, system_crashes_30d
    {%- if not any_row(ref('stg_device__snapshots'), thirty_day_totals_reported()) %}
    from {{ ref('stg_device__snapshots') }}
    where false
    {%- else %}
    from device_days
    {%- if is_incremental() %}

    union all

    select stored.device_id, stored.snapshot_date, stored.app_crashes_30d,
        stored.app_freezes_30d, stored.system_crashes_30d
    from {{ this }} as stored
    left join device_days
        on stored.device_id = device_days.device_id
        and stored.snapshot_date = device_days.snapshot_date
    where device_days.device_id is null
        and stored.snapshot_date in (
            select {{ previous_day }} from device_days
            where {{ thirty_day_totals_reported('device_days.') }}
        )
    {%- endif %}
    {%- endif %}

),

-- Devices that name their user by user principal name (Intune) get the employee the directory
-- gives that name (its latest snapshot at build time); one employee per name.
employees_by_user_principal as (

    select user_principal_key, min(employee_key) as employee_key
    from {{ ref('stg_directory__employees') }}
    where user_principal_key is not null
    group by user_principal_key

),

device_days_counted as (

    select
        device_days.device_id,
        device_days.snapshot_date,
        coalesce(device_days.employee_key, employees_by_user_principal.employee_key) as employee_key,
        device_days.device_type,
        device_days.model,
        device_days.os_version,
        device_days.extract_date,
        device_days.boot_duration_s,
        device_days.logon_duration_s,
        {% for count in ['app_crashes', 'app_freezes', 'system_crashes'] -%}
        coalesce(
            device_days.{{ count }},
            case
                when previous.device_id is not null
                    then greatest(0, device_days.{{ count }}_30d - previous.{{ count }}_30d)
                else device_days.{{ count }}_30d / 30.0
            end
        ) as {{ count }},
        device_days.{{ count }}_30d,
        {% endfor -%}
        case
            when not ({{ thirty_day_totals_reported('device_days.') }}) then 'reported'
            when previous.device_id is not null then 'difference_of_30_day_totals'
            else '30_day_totals_over_30'
        end as daily_counts_from,
        device_days.cpu_saturation_pct,
        device_days.memory_saturation_pct,
        device_days.disk_free_pct,
        device_days.battery_health_pct
    from device_days
    left join previous_totals as previous
        on device_days.device_id = previous.device_id
        and previous.snapshot_date = {{ previous_day }}
    left join employees_by_user_principal
        on device_days.user_principal_key = employees_by_user_principal.user_principal_key

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
        app_crashes_30d,
        app_freezes_30d,
        system_crashes_30d,
        daily_counts_from,
        {{ band_score('boot_duration_s', 30, 120) }} as boot_score,
        {{ band_score('logon_duration_s', 20, 60) }} as logon_score,
        {{ band_score('app_crashes + app_freezes', 0, 3) }} as app_stability_score,
        {{ band_score('system_crashes', 0, 1) }} as system_stability_score,
        {{ band_score('cpu_saturation_pct', 5, 30) }} as cpu_score,
        {{ band_score('memory_saturation_pct', 5, 30) }} as memory_score,
        {{ band_score('disk_free_pct', 20, 5) }} as disk_score,
        {{ band_score('battery_health_pct', 80, 60) }} as battery_score
    from device_days_counted

),

final as (

    select
        *,
        {{ dex_score() }} as dex_score,
        {{ dex_components() }} as dex_components,
        {{ dex_score_missing_reason() }} as dex_score_missing_reason
    from scored

)

select * from final
