with

responses as (

    select * from {{ ref('stg_survey__responses') }}

),

tickets as (

    select * from {{ ref('int_tickets_mapped_to_services') }}

),

joined as (

    select
        responses.response_id,
        responses.survey_type,
        responses.ticket_number,
        responses.topic,
        responses.responded_at,
        responses.respondent_key,
        responses.happiness,
        responses.lost_time_minutes,
        responses.factors,
        tickets.ticket_id,
        tickets.resolved_at as ticket_resolved_at,
        -- Answers can arrive before their ticket: they are counted as `unknown`, never dropped.
        coalesce(tickets.channel, 'other') as channel,
        coalesce(tickets.ticket_type, 'unknown') as ticket_type,
        -- A ticket survey whose ticket is not (yet) in the ITSM extract stays countable.
        case
            when responses.survey_type = 'ticket' then coalesce(tickets.service_id, 'unmapped')
        end as service_id
    from responses
    left join tickets
        on responses.ticket_number = tickets.ticket_number

)

select * from joined
