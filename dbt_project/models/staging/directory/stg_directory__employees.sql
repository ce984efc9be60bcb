{#- Incremental: the device mart, the ticket marts and their tests all read the latest snapshot,
    and ranking every directory row (5 M at L) on each build cost seconds a daily run; most
    days bring no snapshot at all. -#}
{{
    config(
        materialized='incremental',
        unique_key='employee_key',
        incremental_strategy=incremental_strategy(),
        full_refresh=rebuilds_in_full(),
        on_schema_change='fail',
    )
}}

with

source as (

    select * from {{ source('raw', 'directory_employees') }}
    {% if is_incremental() -%}
    where {{ extract_window_filter('_extract_date', watermark='snapshot_date') }}
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
-- an old date never replaces a newer snapshot (the same date delivered again does).
final as (

    select renamed.*
    from renamed
    left join {{ this }} as chosen
        on renamed.employee_key = chosen.employee_key
    where chosen.employee_key is null
        or renamed.snapshot_date >= chosen.snapshot_date

)
{%- else -%}
final as (

    select * from renamed

)
{%- endif %}

select * from final
