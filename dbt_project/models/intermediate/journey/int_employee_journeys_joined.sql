{{
    config(
        materialized='incremental',
        incremental_strategy='replace_periods',
        meta={'period_column': 'month_start', 'touched_by': 'journey', 'period_grain': 'month'},
        on_schema_change='fail',
    )
}}
{#- Each employee month on their primary device with what they did that month: tickets they
    opened (month of opened_at), how many were about hardware, and their ticket-survey answers
    (month of responded_at) as counts and sums, so any grouping can add them up. -#}
with

employee_months as (

    select * from {{ ref('int_employee_device_month') }}
    where {{ in_touched_periods('month_start') }}

),

-- Today's department: an employee the directory does not list (yet) is still counted, never
-- dropped.
employees as (

    select employee_key, department from {{ ref('stg_directory__employees') }}

),

-- Hardware: the ticket's category says so, or its service is one the XLA targets score on DEX
-- (the Workplace Devices service): docs/metrics.md.
device_services as (

    select distinct service_id
    from {{ ref('int_xla_targets_resolved') }}
    where indicator = 'dex_score'

),

tickets as (

    select
        tickets.caller_key as employee_key,
        cast({{ dbt.date_trunc('month', 'tickets.opened_at') }} as date) as month_start,
        case
            when lower(trim(tickets.category)) = 'hardware' then 1
            when device_services.service_id is not null then 1
            else 0
        end as is_hardware
    from {{ ref('int_tickets_mapped_to_services') }} as tickets
    left join device_services
        on tickets.service_id = device_services.service_id
    where tickets.caller_key is not null
        and {{ in_touched_periods('cast(' ~ dbt.date_trunc('month', 'tickets.opened_at') ~ ' as date)') }}

),

tickets_by_employee_month as (

    select
        employee_key,
        month_start,
        count(*) as tickets_opened,
        sum(is_hardware) as hardware_tickets
    from tickets
    group by employee_key, month_start

),

answers as (

    select
        respondent_key as employee_key,
        cast({{ dbt.date_trunc('month', 'responded_at') }} as date) as month_start,
        happiness,
        lost_time_minutes
    from {{ ref('int_survey_responses_joined_to_tickets') }}
    where survey_type = 'ticket'
        and respondent_key is not null
        and {{ in_touched_periods('cast(' ~ dbt.date_trunc('month', 'responded_at') ~ ' as date)') }}

),

answers_by_employee_month as (

    select
        employee_key,
        month_start,
        {{ experience_counts('happiness', 'lost_time_minutes') }}
    from answers
    group by employee_key, month_start

),

final as (

    select
        employee_months.employee_key,
        employee_months.month_start,
        coalesce(employees.department, 'unknown') as department,
        employee_months.device_id,
        employee_months.model,
        employee_months.device_type,
        employee_months.dex_score,
        employee_months.dex_band,
        cast(coalesce(tickets_by_employee_month.tickets_opened, 0) as bigint) as tickets_opened,
        cast(coalesce(tickets_by_employee_month.hardware_tickets, 0) as bigint) as hardware_tickets,
        cast(coalesce(answers_by_employee_month.responses, 0) as bigint) as responses,
        cast(coalesce(answers_by_employee_month.promoters, 0) as bigint) as promoters,
        cast(coalesce(answers_by_employee_month.detractors, 0) as bigint) as detractors,
        cast(coalesce(answers_by_employee_month.lost_time_responses, 0) as bigint)
            as lost_time_responses,
        cast(coalesce(answers_by_employee_month.lost_time_sum, 0) as bigint) as lost_time_minutes
    from employee_months
    left join employees
        on employee_months.employee_key = employees.employee_key
    left join tickets_by_employee_month
        on employee_months.employee_key = tickets_by_employee_month.employee_key
        and employee_months.month_start = tickets_by_employee_month.month_start
    left join answers_by_employee_month
        on employee_months.employee_key = answers_by_employee_month.employee_key
        and employee_months.month_start = answers_by_employee_month.month_start

)

select * from final
