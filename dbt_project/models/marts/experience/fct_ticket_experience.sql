{{
    config(
        materialized='incremental',
        incremental_strategy='replace_periods',
        meta={'period_column': 'ticket_number', 'touched_by': 'tickets'},
        on_schema_change='fail',
    )
}}
with

tickets as (

    select * from {{ ref('int_tickets_mapped_to_services') }}
    where resolved_at is not null
        and {{ in_touched_periods('ticket_number') }}

),

responses as (

    select * from {{ ref('int_survey_responses_joined_to_tickets') }}
    where survey_type = 'ticket' and ticket_id is not null
        and {{ in_touched_periods('ticket_number') }}

),

-- HappySignals asks once per ticket; should a ticket collect more, its latest answer stands here.
latest_response as (

    select
        *,
        row_number() over (
            partition by ticket_id
            order by responded_at desc, response_id desc
        ) as response_rank
    from responses

),

joined as (

    select
        cast(tickets.ticket_number as {{ dbt.type_string() }}) as ticket_number,
        cast(tickets.ticket_id as {{ dbt.type_string() }}) as ticket_id,
        cast(tickets.ticket_type as {{ dbt.type_string() }}) as ticket_type,
        cast(tickets.service_id as {{ dbt.type_string() }}) as service_id,
        cast(tickets.mapping_rule as {{ dbt.type_string() }}) as mapping_rule,
        cast(tickets.business_service as {{ dbt.type_string() }}) as business_service,
        cast(tickets.assignment_group as {{ dbt.type_string() }}) as assignment_group,
        cast(tickets.category as {{ dbt.type_string() }}) as category,
        cast(tickets.opened_at as timestamp) as opened_at,
        cast(tickets.resolved_at as timestamp) as resolved_at,
        cast(tickets.resolution_hours as double) as resolution_hours,
        cast(tickets.priority as integer) as priority,
        cast(tickets.contact_type as {{ dbt.type_string() }}) as contact_type,
        cast(tickets.channel as {{ dbt.type_string() }}) as channel,
        cast(tickets.made_sla as boolean) as made_sla,
        cast(tickets.is_reopened as boolean) as reopened,
        cast(tickets.reassignment_count as integer) as reassignment_count,
        cast(tickets.caller_key as {{ dbt.type_string() }}) as caller_key,
        cast(latest_response.responded_at as timestamp) as responded_at,
        cast(latest_response.happiness as integer) as happiness,
        cast(latest_response.lost_time_minutes as integer) as lost_time_minutes,
        cast(latest_response.factors as {{ dbt.type_string() }}) as factors
    from tickets
    left join latest_response
        on tickets.ticket_id = latest_response.ticket_id
        and latest_response.response_rank = 1

)

select * from joined
