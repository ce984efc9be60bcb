with

tickets as (

    select * from {{ ref('stg_itsm__tickets') }}

),

business_service_mapping as (

    select * from {{ ref('business_service_mapping') }}

),

channel_mapping as (

    select * from {{ ref('channel_mapping') }}

),

mapped as (

    select
        tickets.ticket_id,
        tickets.ticket_number,
        tickets.ticket_type,
        -- Tickets whose business service the catalog does not know are kept and counted
        -- under `unmapped`, never dropped.
        coalesce(business_service_mapping.service_id, 'unmapped') as service_id,
        tickets.business_service,
        tickets.opened_at,
        -- DESIGN §4: resolved_at, or closed_at where the table has none (sc_req_item).
        case
            when tickets.ticket_table = 'sc_req_item'
                then coalesce(tickets.resolved_at, tickets.closed_at)
            else tickets.resolved_at
        end as resolved_at,
        tickets.priority,
        tickets.contact_type,
        coalesce(channel_mapping.channel, 'other') as channel,
        coalesce(tickets.made_sla, false) as made_sla,
        coalesce(tickets.reopen_count, 0) > 0 as is_reopened,
        coalesce(tickets.reassignment_count, 0) as reassignment_count,
        tickets.category,
        tickets.caller_key
    from tickets
    left join business_service_mapping
        on lower(trim(tickets.business_service)) = lower(trim(business_service_mapping.business_service))
    left join channel_mapping
        on lower(trim(tickets.contact_type)) = lower(trim(channel_mapping.contact_type))

),

with_durations as (

    select
        *,
        cast({{ dbt.datediff('opened_at', 'resolved_at', 'second') }} as double) / 3600 as resolution_hours
    from mapped

)

select * from with_durations
