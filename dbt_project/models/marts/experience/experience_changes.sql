{#- Is this week's score a change or noise? Each in-scope service week is tested against the four
    weeks before it and against its XLA baseline window, both pooled as one group (docs/metrics.md).
    Every side works from counts and sums (experience_counts), so pooling is adding up. -#}
with

services as (

    select
        service_id,
        cast({{ dbt.date_trunc('week', 'xm_scope_start') }} as date) as scope_week
    from {{ ref('dim_service') }}
    where xm_scope_start is not null

),

ticket_responses as (

    select
        service_id,
        cast({{ dbt.date_trunc('week', 'responded_at') }} as date) as week_start,
        happiness,
        lost_time_minutes
    from {{ ref('int_survey_responses_joined_to_tickets') }}
    where survey_type = 'ticket'

),

week_counts as (

    select
        service_id,
        week_start,
        {{ experience_counts('happiness', 'lost_time_minutes') }}
    from ticket_responses
    group by service_id, week_start

),

first_week as (

    select min(week_start) as first_week_start from ticket_responses

),

-- The XMO watches a service from the week it joined the scope.
watched_weeks as (

    select week_counts.*
    from week_counts
    inner join services
        on week_counts.service_id = services.service_id
        and week_counts.week_start >= services.scope_week

),

-- The four weeks before, only once the data covers all four of them.
previous_windows as (

    select
        watched_weeks.service_id,
        watched_weeks.week_start,
        'previous_4_weeks' as reference_kind,
        cast({{ dbt.dateadd('week', -4, 'watched_weeks.week_start') }} as date) as reference_start,
        cast({{ dbt.dateadd('day', -1, 'watched_weeks.week_start') }} as date) as reference_end
    from watched_weeks
    cross join first_week
    where cast({{ dbt.dateadd('week', -4, 'watched_weeks.week_start') }} as date)
        >= first_week.first_week_start

),

baseline_windows as (

    select distinct service_id, baseline_start, baseline_end
    from {{ ref('xla_baseline') }}

),

-- The baseline window (whole weeks), for the weeks after it.
baseline_references as (

    select
        watched_weeks.service_id,
        watched_weeks.week_start,
        'baseline' as reference_kind,
        baseline_windows.baseline_start as reference_start,
        baseline_windows.baseline_end as reference_end
    from watched_weeks
    inner join baseline_windows
        on watched_weeks.service_id = baseline_windows.service_id
        and watched_weeks.week_start > baseline_windows.baseline_end

),

reference_windows as (

    select * from previous_windows
    union all
    select * from baseline_references

),

reference_counts as (

    select
        reference_windows.service_id,
        reference_windows.week_start,
        reference_windows.reference_kind,
        reference_windows.reference_start,
        reference_windows.reference_end,
        sum(week_counts.responses) as responses,
        sum(week_counts.promoters) as promoters,
        sum(week_counts.detractors) as detractors,
        sum(week_counts.lost_time_responses) as lost_time_responses,
        sum(week_counts.lost_time_sum) as lost_time_sum,
        sum(week_counts.lost_time_sum_of_squares) as lost_time_sum_of_squares
    from reference_windows
    inner join week_counts
        on reference_windows.service_id = week_counts.service_id
        and week_counts.week_start >= reference_windows.reference_start
        and week_counts.week_start <= reference_windows.reference_end
    group by
        reference_windows.service_id,
        reference_windows.week_start,
        reference_windows.reference_kind,
        reference_windows.reference_start,
        reference_windows.reference_end

),

-- Both sides of every test, each with its value and standard error. No test where either side
-- is low sample, nor where the normal approximation behind z does not hold (docs/metrics.md):
-- a score needs min_answers_off_each_extreme answers that are not 9-10 and as many that are not
-- 0-6 (near +-100 the Wald error shrinks to nothing: 9 tens out of 9 would be "certain"); lost
-- time needs min_lost_time_answers_to_test answers reporting it (its heavy tail makes the mean
-- of fewer miss the rare long losses and look like a change).
sides as (

    select
        this_week.service_id,
        this_week.week_start,
        'happiness_score' as indicator,
        reference.reference_kind,
        reference.reference_start,
        reference.reference_end,
        this_week.responses as n,
        reference.responses as reference_n,
        cast(100 * (this_week.promoters - this_week.detractors) as double) / this_week.responses as value,
        {{ happiness_standard_error('this_week.promoters', 'this_week.detractors', 'this_week.responses') }} as se,
        cast(100 * (reference.promoters - reference.detractors) as double) / reference.responses as reference_value,
        {{ happiness_standard_error('reference.promoters', 'reference.detractors', 'reference.responses') }} as reference_se
    from watched_weeks as this_week
    inner join reference_counts as reference
        on this_week.service_id = reference.service_id
        and this_week.week_start = reference.week_start
    where this_week.responses >= {{ var('min_responses') }}
        and reference.responses >= {{ var('min_responses') }}
        and this_week.responses - this_week.promoters >= {{ var('min_answers_off_each_extreme') }}
        and this_week.responses - this_week.detractors >= {{ var('min_answers_off_each_extreme') }}
        and reference.responses - reference.promoters >= {{ var('min_answers_off_each_extreme') }}
        and reference.responses - reference.detractors >= {{ var('min_answers_off_each_extreme') }}

    union all

    select
        this_week.service_id,
        this_week.week_start,
        'avg_lost_time_minutes' as indicator,
        reference.reference_kind,
        reference.reference_start,
        reference.reference_end,
        this_week.lost_time_responses as n,
        reference.lost_time_responses as reference_n,
        cast(this_week.lost_time_sum as double) / this_week.lost_time_responses as value,
        {{ lost_time_standard_error('this_week.lost_time_responses', 'this_week.lost_time_sum', 'this_week.lost_time_sum_of_squares') }} as se,
        cast(reference.lost_time_sum as double) / reference.lost_time_responses as reference_value,
        {{ lost_time_standard_error('reference.lost_time_responses', 'reference.lost_time_sum', 'reference.lost_time_sum_of_squares') }} as reference_se
    from watched_weeks as this_week
    inner join reference_counts as reference
        on this_week.service_id = reference.service_id
        and this_week.week_start = reference.week_start
    where this_week.responses >= {{ var('min_responses') }}
        and reference.responses >= {{ var('min_responses') }}
        and this_week.lost_time_responses >= {{ var('min_lost_time_answers_to_test') }}
        and reference.lost_time_responses >= {{ var('min_lost_time_answers_to_test') }}

),

-- z is undefined when neither side varies (e.g. all 10s against all 10s): no test then.
tested as (

    select
        *,
        value - reference_value as delta,
        sqrt(se * se + reference_se * reference_se) as se_of_delta,
        case
            when se * se + reference_se * reference_se > 0
                then (value - reference_value) / sqrt(se * se + reference_se * reference_se)
        end as z
    from sides

),

with_p_values as (

    select
        *,
        case when z is not null then {{ two_sided_normal_p_value('z') }} end as p_value
    from tested

),

-- Benjamini-Hochberg over every test of the week and reference kind: q of the i-th smallest of
-- m p-values = min over j >= i of p_j * m / j, at most 1.
ranked as (

    select
        *,
        row_number() over (
            partition by week_start, reference_kind
            order by p_value asc nulls last, service_id, indicator
        ) as p_rank,
        count(p_value) over (partition by week_start, reference_kind) as tests_in_family
    from with_p_values

),

adjusted as (

    select
        *,
        case
            when p_value is not null
                then least(1.0, min(p_value * tests_in_family / p_rank) over (
                    partition by week_start, reference_kind
                    order by p_rank desc
                    rows between unbounded preceding and current row
                ))
        end as bh_minimum
    from ranked

),

-- p * m / m can round one bit below p: a q-value is never below its p-value.
bounded as (

    select
        *,
        {{ at_least('bh_minimum', 'p_value') }} as q_value
    from adjusted

),

final as (

    select
        cast(service_id as {{ dbt.type_string() }}) as service_id,
        cast(week_start as date) as week_start,
        cast(indicator as {{ dbt.type_string() }}) as indicator,
        cast(reference_kind as {{ dbt.type_string() }}) as reference_kind,
        cast(reference_start as date) as reference_start,
        cast(reference_end as date) as reference_end,
        cast(n as bigint) as n,
        cast(reference_n as bigint) as reference_n,
        cast(value as double) as value,
        cast(case
            when indicator = 'happiness_score' then {{ happiness_interval('value', 'se', 'low') }}
            else {{ lost_time_interval('value', 'se', 'low') }}
        end as double) as value_ci_low,
        cast(case
            when indicator = 'happiness_score' then {{ happiness_interval('value', 'se', 'high') }}
            else {{ lost_time_interval('value', 'se', 'high') }}
        end as double) as value_ci_high,
        cast(reference_value as double) as reference_value,
        cast(case
            when indicator = 'happiness_score'
                then {{ happiness_interval('reference_value', 'reference_se', 'low') }}
            else {{ lost_time_interval('reference_value', 'reference_se', 'low') }}
        end as double) as reference_ci_low,
        cast(case
            when indicator = 'happiness_score'
                then {{ happiness_interval('reference_value', 'reference_se', 'high') }}
            else {{ lost_time_interval('reference_value', 'reference_se', 'high') }}
        end as double) as reference_ci_high,
        cast(delta as double) as delta,
        cast(z as double) as z,
        cast(p_value as double) as p_value,
        cast(q_value as double) as q_value,
        -- q <= 0.05, and the change clears what these answers could detect: 1.96 rounds the
        -- normal quantile, so without the second test a z of 1.9599 could pass the first alone.
        cast(coalesce(
            q_value <= 0.05 and abs(delta) >= {{ z_95() }} * se_of_delta, false
        ) as boolean) as is_significant,
        cast(case
            when delta = 0 then null
            when (indicator = 'happiness_score') = (delta > 0) then 'better'
            else 'worse'
        end as {{ dbt.type_string() }}) as direction,
        cast({{ z_95() }} * se_of_delta as double) as minimum_detectable_change
    from bounded

)

select * from final
