with

catalog as (

    select * from {{ ref('service_catalog') }}

),

services as (

    select
        service_id,
        service_name,
        service_owner,
        xm_scope_start,
        coalesce(xm_scope_start <= cast({{ dbt.current_timestamp() }} as date), false) as in_scope
    from catalog

    union all

    -- Tickets whose business service is not in the catalog are reported here, not dropped.
    select
        'unmapped' as service_id,
        'Unmapped business services' as service_name,
        cast(null as {{ dbt.type_string() }}) as service_owner,
        cast(null as date) as xm_scope_start,
        false as in_scope

),

final as (

    select
        cast(service_id as {{ dbt.type_string() }}) as service_id,
        cast(service_name as {{ dbt.type_string() }}) as service_name,
        cast(service_owner as {{ dbt.type_string() }}) as service_owner,
        cast(xm_scope_start as date) as xm_scope_start,
        cast(in_scope as boolean) as in_scope
    from services

)

select * from final
