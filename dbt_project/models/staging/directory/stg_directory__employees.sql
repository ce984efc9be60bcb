{#- Incremental: the device mart, the ticket marts and their tests all read the latest snapshot,
    and ranking every directory row (5 M at L) on each build cost seconds a daily run; most
    days bring no snapshot at all. -#}
{{
    config(
        materialized='incremental',
        unique_key='employee_key',
        incremental_strategy='replace_extracts',
        partition_by=replaced_partitions('snapshot_date'),
        meta={'extract_date_columns': 'snapshot_date'},
        on_schema_change='fail',
    )
}}

{#- A run that delivers again a snapshot built before: see `dropped`. -#}
{%- set redelivers = holds_window_extracts() %}

with

{% if redelivers -%}
-- Employees whose row came from a snapshot of the window that, delivered again, no longer
-- lists them: they fall back to their latest other snapshot, or leave. Staging keeps only the
-- key, so the directory's ids are hashed to find them, each id once, and only on such a run:
-- a daily run must not hash the whole directory (5 M rows at L).
dropped as (

    select chosen.employee_key
    from {{ this }} as chosen
    left join (
        select distinct {{ pseudonymize('employee_id') }} as employee_key
        from {{ source('raw', 'directory_employees') }}
        where {{ extract_window_filter('_extract_date') }}
    ) as listed
        on chosen.employee_key = listed.employee_key
    where {{ from_window_extracts('chosen.snapshot_date') }}
        and listed.employee_key is null

),

dropped_ids as (

    select ids.employee_id
    from (
        select distinct employee_id from {{ source('raw', 'directory_employees') }}
    ) as ids
    inner join dropped
        on {{ pseudonymize('ids.employee_id') }} = dropped.employee_key

),

{% endif -%}

source as (

    select * from {{ source('raw', 'directory_employees') }}
    {% if is_incremental() -%}
    where {{ extract_window_filter('_extract_date', watermark='snapshot_date') }}
    {%- endif %}
    {%- if redelivers %}
        or employee_id in (select dropped_ids.employee_id from dropped_ids)
    {%- endif %}

),

-- Each snapshot restates the directory: the latest snapshot describes the employee.
ranked as (

    select
        *,
        row_number() over (
            partition by employee_id
            order by _extract_date desc, _source_line desc
        ) as version_rank
    from source

),

renamed as (

    select
        {{ pseudonymize('employee_id') }} as employee_key,
        {{ pseudonymize("lower(nullif(trim(user_principal_name), ''))") }} as user_principal_key,
        department,
        country,
        location,
        job_role,
        coalesce(vip, false) as is_vip,
        _extract_date as snapshot_date
    from ranked
    where version_rank = 1

),

{% if is_incremental() -%}
-- A snapshot replaces an employee's row unless a newer one was chosen before, so re-running
-- an old date never replaces a newer snapshot (the same date delivered again does). Rows
-- chosen from the window's snapshots do not count: the run replaces them all.
final as (

    select renamed.*
    from renamed
    left join {{ this }} as chosen
        on renamed.employee_key = chosen.employee_key
        {%- if extract_window() %}
        and not ({{ from_window_extracts('chosen.snapshot_date') }})
        {%- endif %}
    where chosen.employee_key is null
        or renamed.snapshot_date >= chosen.snapshot_date

)
{%- else -%}
final as (

    select * from renamed

)
{%- endif %}

select * from final
