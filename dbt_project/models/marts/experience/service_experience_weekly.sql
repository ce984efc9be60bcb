with

resolved_tickets as (

    select
        *,
        cast({{ dbt.date_trunc('week', 'resolved_at') }} as date) as week_start
    from {{ ref('int_tickets_mapped_to_services') }}
    where resolved_at is not null

),

ticket_responses as (

    select
        *,
        cast({{ dbt.date_trunc('week', 'responded_at') }} as date) as week_start
    from {{ ref('int_survey_responses_joined_to_tickets') }}
    where survey_type = 'ticket'

),

-- Survey metrics count in the week the response was given.
responses_by_week as (

    select
        service_id,
        week_start,
        count(*) as responses,
        {{ happiness_score('happiness', 'count(*)') }} as happiness_score,
        {{ when_enough_responses('count(*)', 'avg(lost_time_minutes)') }} as avg_lost_time_minutes,
        {{ when_enough_responses('count(*)', 'sum(lost_time_minutes) / 60.0') }} as total_lost_hours
    from ticket_responses
    group by service_id, week_start

),

-- Ticket metrics count in the week the ticket was resolved.
tickets_by_week as (

    select
        service_id,
        week_start,
        count(*) as tickets_resolved,
        {{ median('resolution_hours') }} as mttr_hours,
        avg(case when made_sla then 1.0 else 0.0 end) as sla_attainment,
        avg(case when is_reopened then 1.0 else 0.0 end) as reopen_rate
    from resolved_tickets
    group by service_id, week_start

),

-- Response rate's numerator: responses to the tickets resolved in the week, whenever given.
responses_to_resolved_by_week as (

    select
        resolved_tickets.service_id,
        resolved_tickets.week_start,
        count(*) as responses_to_resolved
    from resolved_tickets
    inner join ticket_responses
        on resolved_tickets.ticket_id = ticket_responses.ticket_id
    group by resolved_tickets.service_id, resolved_tickets.week_start

),

service_weeks as (

    select service_id, week_start from responses_by_week
    union
    select service_id, week_start from tickets_by_week

),

final as (

    select
        cast(service_weeks.service_id as varchar) as service_id,
        cast(service_weeks.week_start as date) as week_start,
        cast(coalesce(responses_by_week.responses, 0) as bigint) as responses,
        cast(responses_by_week.happiness_score as double) as happiness_score,
        cast(responses_by_week.avg_lost_time_minutes as double) as avg_lost_time_minutes,
        cast(responses_by_week.total_lost_hours as double) as total_lost_hours,
        cast(coalesce(tickets_by_week.tickets_resolved, 0) as bigint) as tickets_resolved,
        cast(
            coalesce(responses_to_resolved_by_week.responses_to_resolved, 0) * 1.0
            / nullif(tickets_by_week.tickets_resolved, 0)
            as double
        ) as response_rate,
        cast(tickets_by_week.mttr_hours as double) as mttr_hours,
        cast(tickets_by_week.sla_attainment as double) as sla_attainment,
        cast(tickets_by_week.reopen_rate as double) as reopen_rate,
        cast(coalesce(responses_by_week.responses, 0) < {{ var('min_responses') }} as boolean)
            as low_sample
    from service_weeks
    left join responses_by_week
        on service_weeks.service_id = responses_by_week.service_id
        and service_weeks.week_start = responses_by_week.week_start
    left join tickets_by_week
        on service_weeks.service_id = tickets_by_week.service_id
        and service_weeks.week_start = tickets_by_week.week_start
    left join responses_to_resolved_by_week
        on service_weeks.service_id = responses_to_resolved_by_week.service_id
        and service_weeks.week_start = responses_to_resolved_by_week.week_start

)

select * from final
