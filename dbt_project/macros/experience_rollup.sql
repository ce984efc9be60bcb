{#- The experience metrics of DESIGN §4 for any grouping and period, written once.
    Survey metrics count in the period of responded_at; ticket metrics in the period of
    resolved_at; the response rate counts responses to the tickets resolved in the period;
    tickets that ended without being resolved count only as canceled, in their closing period.
    `dimensions` are columns present on both tickets and ticket responses. -#}
{% macro experience_rollup(dimensions, grain, period_column) -%}
{%- set dims = dimensions | join(', ') -%}
{#- An incremental build computes the periods its run touched (macros/touched_periods.sql). -#}
{%- set resolved_period = 'cast(' ~ dbt.date_trunc(grain, 'resolved_at') ~ ' as date)' -%}
{%- set canceled_period = 'cast(' ~ dbt.date_trunc(grain, 'canceled_at') ~ ' as date)' -%}
{%- set responded_period = 'cast(' ~ dbt.date_trunc(grain, 'responded_at') ~ ' as date)' -%}
with

resolved_tickets as (

    select
        *,
        {{ resolved_period }} as {{ period_column }}
    from {{ ref('int_tickets_mapped_to_services') }}
    where resolved_at is not null
        and {{ in_touched_periods(resolved_period) }}

),

canceled_tickets as (

    select
        *,
        {{ canceled_period }} as {{ period_column }}
    from {{ ref('int_tickets_mapped_to_services') }}
    where is_canceled
        and {{ in_touched_periods(canceled_period) }}

),

ticket_responses as (

    select
        *,
        {{ responded_period }} as {{ period_column }}
    from {{ ref('int_survey_responses_joined_to_tickets') }}
    where survey_type = 'ticket'
        and {{ in_touched_periods(responded_period) }}

),

-- The answers to a period's resolved tickets, whenever they were given.
answers_to_tickets as (

    select ticket_id
    from {{ ref('int_survey_responses_joined_to_tickets') }}
    where survey_type = 'ticket'

),

responses_by_period as (

    select
        {{ dims }},
        {{ period_column }},
        {{ experience_counts('happiness', 'lost_time_minutes') }},
        {{ happiness_score('happiness', 'count(*)') }} as happiness_score,
        {{ when_enough_responses('count(*)', 'avg(lost_time_minutes)') }} as avg_lost_time_minutes,
        {{ when_enough_responses('count(*)', 'cast(sum(lost_time_minutes) as double) / 60') }} as total_lost_hours
    from ticket_responses
    group by {{ dims }}, {{ period_column }}

),

tickets_by_period as (

    select
        {{ dims }},
        {{ period_column }},
        count(*) as tickets_resolved,
        {{ median('resolution_hours') }} as mttr_hours,
        avg(case when made_sla then 1 else 0 end) as sla_attainment,
        avg(case when is_reopened then 1 else 0 end) as reopen_rate
    from resolved_tickets
    group by {{ dims }}, {{ period_column }}

),

canceled_by_period as (

    select
        {{ dims }},
        {{ period_column }},
        count(*) as tickets_canceled
    from canceled_tickets
    group by {{ dims }}, {{ period_column }}

),

responses_to_resolved_by_period as (

    select
        {% for d in dimensions %}resolved_tickets.{{ d }},{% endfor %}
        resolved_tickets.{{ period_column }},
        count(*) as responses_to_resolved
    from resolved_tickets
    inner join answers_to_tickets
        on resolved_tickets.ticket_id = answers_to_tickets.ticket_id
    group by {% for d in dimensions %}resolved_tickets.{{ d }}, {% endfor %}resolved_tickets.{{ period_column }}

),

periods as (

    select {{ dims }}, {{ period_column }} from responses_by_period
    union
    select {{ dims }}, {{ period_column }} from tickets_by_period
    union
    select {{ dims }}, {{ period_column }} from canceled_by_period

),

final as (

    select
        {% for d in dimensions %}cast(periods.{{ d }} as {{ dbt.type_string() }}) as {{ d }},
        {% endfor %}cast(periods.{{ period_column }} as date) as {{ period_column }},
        cast(coalesce(responses_by_period.responses, 0) as bigint) as responses,
        cast(responses_by_period.happiness_score as double) as happiness_score,
        cast(responses_by_period.avg_lost_time_minutes as double) as avg_lost_time_minutes,
        cast(responses_by_period.total_lost_hours as double) as total_lost_hours,
        cast(coalesce(tickets_by_period.tickets_resolved, 0) as bigint) as tickets_resolved,
        cast(
            cast(coalesce(responses_to_resolved_by_period.responses_to_resolved, 0) as double)
            / nullif(tickets_by_period.tickets_resolved, 0)
            as double
        ) as response_rate,
        cast(tickets_by_period.mttr_hours as double) as mttr_hours,
        cast(tickets_by_period.sla_attainment as double) as sla_attainment,
        cast(tickets_by_period.reopen_rate as double) as reopen_rate,
        cast(coalesce(canceled_by_period.tickets_canceled, 0) as bigint) as tickets_canceled,
        cast(coalesce(responses_by_period.responses, 0) < {{ var('min_responses') }} as boolean)
            as low_sample,
        {{ experience_intervals(
            'responses_by_period',
            'responses_by_period.happiness_score',
            'responses_by_period.avg_lost_time_minutes'
        ) }}
    from periods
    left join responses_by_period
        on {% for d in dimensions %}periods.{{ d }} = responses_by_period.{{ d }} and {% endfor %}periods.{{ period_column }} = responses_by_period.{{ period_column }}
    left join tickets_by_period
        on {% for d in dimensions %}periods.{{ d }} = tickets_by_period.{{ d }} and {% endfor %}periods.{{ period_column }} = tickets_by_period.{{ period_column }}
    left join canceled_by_period
        on {% for d in dimensions %}periods.{{ d }} = canceled_by_period.{{ d }} and {% endfor %}periods.{{ period_column }} = canceled_by_period.{{ period_column }}
    left join responses_to_resolved_by_period
        on {% for d in dimensions %}periods.{{ d }} = responses_to_resolved_by_period.{{ d }} and {% endfor %}periods.{{ period_column }} = responses_to_resolved_by_period.{{ period_column }}

)

select * from final
{%- endmacro %}
