with

source as (

    select * from {{ source('raw', 'directory_employees') }}

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

)

select * from renamed
