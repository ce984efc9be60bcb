{%- set survey_indicators = ['happiness_score', 'avg_lost_time_minutes'] -%}
{%- set ticket_indicators = ['response_rate', 'mttr_hours', 'sla_attainment', 'reopen_rate'] -%}
with

services as (

    select service_id, xm_scope_start
    from {{ ref('dim_service') }}
    where xm_scope_start is not null

),

targets as (

    select * from {{ ref('int_xla_targets_resolved') }}

),

resolved_tickets as (

    select * from {{ ref('int_tickets_mapped_to_services') }}
    where resolved_at is not null

),

ticket_responses as (

    select * from {{ ref('int_survey_responses_joined_to_tickets') }}
    where survey_type = 'ticket'

),

-- Device-days summed per week: the baseline windows are whole weeks, so the weeks' sums give
-- the windows' means without joining a year of device-days to every service's window.
device_weeks as (

    select
        week_start,
        sum(dex_score_sum) as dex_score_sum,
        sum(dex_score_count) as dex_score_count
    from {{ ref('int_device_weeks_summed') }}
    group by week_start

),

weekly as (

    select * from {{ ref('service_experience_weekly') }}

),

dex_weekly as (

    select
        week_start,
        dex_score_sum / nullif(dex_score_count, 0) as dex_score
    from device_weeks

),

data_start as (

    select cast({{ dbt.date_trunc('week', 'min(first_at)') }} as date) as first_week
    from (
        select min(resolved_at) as first_at from resolved_tickets
        union all
        select min(responded_at) as first_at from ticket_responses
    ) as firsts

),

-- The baseline_weeks full weeks before the week the service joined the scope; when those
-- would start before the data does, the first baseline_weeks weeks of data instead.
windows as (

    select
        services.service_id,
        case
            when cast({{ dbt.dateadd('week', -var('baseline_weeks'), dbt.date_trunc('week', 'services.xm_scope_start')) }} as date)
                < data_start.first_week
                then data_start.first_week
            else cast({{ dbt.dateadd('week', -var('baseline_weeks'), dbt.date_trunc('week', 'services.xm_scope_start')) }} as date)
        end as baseline_start
    from services
    cross join data_start

),

windows_bounded as (

    select
        service_id,
        baseline_start,
        cast({{ dbt.dateadd('day', 7 * var('baseline_weeks') - 1, 'baseline_start') }} as date)
            as baseline_end,
        cast({{ dbt.dateadd('day', 7 * var('baseline_weeks'), 'baseline_start') }} as date)
            as window_end_exclusive
    from windows

),

window_responses as (

    select
        windows_bounded.service_id,
        count(ticket_responses.response_id) as responses,
        {{ happiness_score('ticket_responses.happiness', 'count(ticket_responses.response_id)') }}
            as happiness_score,
        {{ when_enough_responses('count(ticket_responses.response_id)', 'avg(ticket_responses.lost_time_minutes)') }}
            as avg_lost_time_minutes
    from windows_bounded
    inner join ticket_responses
        on windows_bounded.service_id = ticket_responses.service_id
        and ticket_responses.responded_at >= windows_bounded.baseline_start
        and ticket_responses.responded_at < windows_bounded.window_end_exclusive
    group by windows_bounded.service_id

),

window_tickets as (

    select
        windows_bounded.service_id,
        count(*) as tickets_resolved,
        {{ median('resolved_tickets.resolution_hours') }} as mttr_hours,
        avg(case when resolved_tickets.made_sla then 1 else 0 end) as sla_attainment,
        avg(case when resolved_tickets.is_reopened then 1 else 0 end) as reopen_rate
    from windows_bounded
    inner join resolved_tickets
        on windows_bounded.service_id = resolved_tickets.service_id
        and resolved_tickets.resolved_at >= windows_bounded.baseline_start
        and resolved_tickets.resolved_at < windows_bounded.window_end_exclusive
    group by windows_bounded.service_id

),

window_responses_to_resolved as (

    select
        windows_bounded.service_id,
        count(*) as responses_to_resolved
    from windows_bounded
    inner join resolved_tickets
        on windows_bounded.service_id = resolved_tickets.service_id
        and resolved_tickets.resolved_at >= windows_bounded.baseline_start
        and resolved_tickets.resolved_at < windows_bounded.window_end_exclusive
    inner join ticket_responses
        on resolved_tickets.ticket_id = ticket_responses.ticket_id
    group by windows_bounded.service_id

),

window_dex as (

    select
        windows_bounded.service_id,
        sum(device_weeks.dex_score_count) as device_days,
        sum(device_weeks.dex_score_sum) / nullif(sum(device_weeks.dex_score_count), 0) as dex_score
    from windows_bounded
    inner join device_weeks
        on device_weeks.week_start >= windows_bounded.baseline_start
        and device_weeks.week_start <= windows_bounded.baseline_end
    group by windows_bounded.service_id

),

window_weeks as (

    select
        windows_bounded.service_id,
        {% for indicator in survey_indicators + ticket_indicators -%}
        {{ percentile('weekly.' ~ indicator, 0.25) }} as {{ indicator }}_p25,
        {{ percentile('weekly.' ~ indicator, 0.75) }} as {{ indicator }}_p75,
        {% endfor -%}
        count(*) as weeks
    from windows_bounded
    inner join weekly
        on windows_bounded.service_id = weekly.service_id
        and weekly.week_start >= windows_bounded.baseline_start
        and weekly.week_start <= windows_bounded.baseline_end
    group by windows_bounded.service_id

),

window_dex_weeks as (

    select
        windows_bounded.service_id,
        {{ percentile('dex_weekly.dex_score', 0.25) }} as dex_score_p25,
        {{ percentile('dex_weekly.dex_score', 0.75) }} as dex_score_p75
    from windows_bounded
    inner join dex_weekly
        on dex_weekly.week_start >= windows_bounded.baseline_start
        and dex_weekly.week_start <= windows_bounded.baseline_end
    group by windows_bounded.service_id

),

-- Every window figure of a service in one row, each window CTE joined once.
service_values as (

    select
        windows_bounded.service_id,
        windows_bounded.baseline_start,
        windows_bounded.baseline_end,
        window_responses.happiness_score,
        window_responses.avg_lost_time_minutes,
        coalesce(window_responses.responses, 0) as responses,
        cast(coalesce(window_responses_to_resolved.responses_to_resolved, 0) as double)
            / nullif(window_tickets.tickets_resolved, 0) as response_rate,
        window_tickets.mttr_hours,
        window_tickets.sla_attainment,
        window_tickets.reopen_rate,
        coalesce(window_tickets.tickets_resolved, 0) as tickets_resolved,
        window_dex.dex_score,
        coalesce(window_dex.device_days, 0) as device_days,
        {% for indicator in survey_indicators + ticket_indicators -%}
        window_weeks.{{ indicator }}_p25,
        window_weeks.{{ indicator }}_p75,
        {% endfor -%}
        window_dex_weeks.dex_score_p25,
        window_dex_weeks.dex_score_p75
    from windows_bounded
    left join window_responses on windows_bounded.service_id = window_responses.service_id
    left join window_tickets on windows_bounded.service_id = window_tickets.service_id
    left join window_responses_to_resolved
        on windows_bounded.service_id = window_responses_to_resolved.service_id
    left join window_weeks on windows_bounded.service_id = window_weeks.service_id
    left join window_dex on windows_bounded.service_id = window_dex.service_id
    left join window_dex_weeks on windows_bounded.service_id = window_dex_weeks.service_id

),

indicators as (

    {% for indicator in survey_indicators + ticket_indicators + ['dex_score'] -%}
    select '{{ indicator }}' as indicator{{ ' union all' if not loop.last }}
    {% endfor %}
),

-- One row per service and indicator: an unpivot by cross join, not a `union all` per
-- indicator (Spark inlined every window CTE into each of eight branches: ~50 s on tiny data).
-- The sample size of a survey indicator is the window's answers, of a ticket indicator its
-- resolved tickets, of DEX its device-days.
{%- set sample_sizes = {'responses': survey_indicators, 'tickets_resolved': ticket_indicators,
                        'device_days': ['dex_score']} %}
indicator_values as (

    select
        service_values.service_id,
        indicators.indicator,
        service_values.baseline_start,
        service_values.baseline_end,
        case indicators.indicator
            {% for indicator in survey_indicators + ticket_indicators + ['dex_score'] -%}
            when '{{ indicator }}' then service_values.{{ indicator }}
            {% endfor -%}
        end as baseline_value,
        case indicators.indicator
            {% for indicator in survey_indicators + ticket_indicators + ['dex_score'] -%}
            when '{{ indicator }}' then service_values.{{ indicator }}_p25
            {% endfor -%}
        end as p25,
        case indicators.indicator
            {% for indicator in survey_indicators + ticket_indicators + ['dex_score'] -%}
            when '{{ indicator }}' then service_values.{{ indicator }}_p75
            {% endfor -%}
        end as p75,
        case
            {% for size, sized in sample_sizes.items() -%}
            when indicators.indicator in ('{{ sized | join("', '") }}') then service_values.{{ size }}
            {% endfor -%}
        end as n
    from service_values
    cross join indicators

),

-- A baseline is kept for every indicator the service has a target for.
final as (

    select
        cast(indicator_values.service_id as {{ dbt.type_string() }}) as service_id,
        cast(indicator_values.indicator as {{ dbt.type_string() }}) as indicator,
        cast(indicator_values.baseline_start as date) as baseline_start,
        cast(indicator_values.baseline_end as date) as baseline_end,
        cast(indicator_values.baseline_value as double) as baseline_value,
        cast(indicator_values.p25 as double) as p25,
        cast(indicator_values.p75 as double) as p75,
        cast(indicator_values.n as bigint) as n
    from indicator_values
    inner join targets
        on indicator_values.service_id = targets.service_id
        and indicator_values.indicator = targets.indicator

)

select * from final
