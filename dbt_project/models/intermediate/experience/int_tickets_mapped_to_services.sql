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

-- A ticket that ended without being resolved: an incident Canceled (state 8), a request item
-- Closed Incomplete (4) or Closed Skipped (7). Request items use the task states, where 7 is
-- skipped; an incident's 7 is Closed, after its resolution (docs/sources.md, state codes).
ended as (

    select
        *,
        coalesce(
            (ticket_table = 'incident' and trim(state) = '8')
            or (ticket_table = 'sc_req_item' and trim(state) in ('4', '7')),
            false
        ) as is_canceled
    from tickets

),

mapped as (

    select
        ended.ticket_id,
        ended.ticket_number,
        ended.ticket_type,
        -- Tickets whose business service the catalog does not know are kept and counted
        -- under `unmapped`, never dropped.
        coalesce(business_service_mapping.service_id, 'unmapped') as service_id,
        ended.business_service,
        ended.opened_at,
        -- DESIGN §4: resolved_at, or closed_at where the table has none (sc_req_item); a
        -- canceled ticket is not resolved, whatever its times say.
        case
            when ended.is_canceled then null
            when ended.ticket_table = 'sc_req_item'
                then coalesce(ended.resolved_at, ended.closed_at)
            else ended.resolved_at
        end as resolved_at,
        ended.is_canceled,
        -- Counted in the period it was closed (its last update where an export lacks closed_at).
        case when ended.is_canceled then coalesce(ended.closed_at, ended.updated_at) end
            as canceled_at,
        ended.priority,
        ended.contact_type,
        coalesce(channel_mapping.channel, 'other') as channel,
        coalesce(ended.made_sla, false) as made_sla,
        coalesce(ended.reopen_count, 0) > 0 as is_reopened,
        coalesce(ended.reassignment_count, 0) as reassignment_count,
        ended.category,
        ended.caller_key
    from ended
    left join business_service_mapping
        on lower(trim(ended.business_service)) = lower(trim(business_service_mapping.business_service))
    left join channel_mapping
        on lower(trim(ended.contact_type)) = lower(trim(channel_mapping.contact_type))

),

with_durations as (

    select
        *,
        cast({{ dbt.datediff('opened_at', 'resolved_at', 'second') }} as double) / 3600 as resolution_hours
    from mapped

)

select * from with_durations
