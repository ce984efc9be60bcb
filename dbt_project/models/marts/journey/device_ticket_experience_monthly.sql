{{
    config(
        materialized='incremental',
        incremental_strategy='replace_periods',
        meta={'period_column': 'month_start', 'touched_by': 'journey', 'period_grain': 'month'},
        on_schema_change='fail',
    )
}}
{#- Do the people on a model raise more tickets and lose more time? Employee months on their
    primary device, by department and model, and for the organisation (department 'all'). -#}
with

{{ journey_ctes('model') }},

final as (

    select
        cast(department as {{ dbt.type_string() }}) as department,
        cast(model as {{ dbt.type_string() }}) as model,
        cast(month_start as date) as month_start,
        cast(employees as bigint) as employees,
        cast(devices as bigint) as devices,
        {{ journey_figures() }}
    from journey_cells

)

select * from final
