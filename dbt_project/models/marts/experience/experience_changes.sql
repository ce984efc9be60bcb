{#- Is this week's score a change or noise? Each in-scope service week is tested against the four
    weeks before it and against its XLA baseline window, both pooled as one group (docs/metrics.md).
    Happiness works from counts (experience_counts), so pooling is adding up; lost time is tested
    on the ranks of both windows' answers. -#}
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
        sum(week_counts.lost_time_sum_of_squares) as lost_time_sum_of_squares,
        sum(week_counts.lost_time_log_sum) as lost_time_log_sum,
        sum(week_counts.lost_time_log_sum_of_squares) as lost_time_log_sum_of_squares
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

-- Lost time is tested on ranks (Mann-Whitney): both windows' answers ranked together, tied
-- answers sharing the mean of their ranks. Its heavy tail makes a test on means or logs call a
-- small week with one long loss "worse" far more often than its p-value says
-- (quality/uncertainty.py); the rank-sum's null distribution does not depend on the tail.
lost_time_answers as (

    select service_id, week_start, cast(lost_time_minutes as double) as minutes
    from ticket_responses
    where lost_time_minutes is not null

),

lost_time_test_answers as (

    select
        reference_windows.service_id,
        reference_windows.week_start,
        reference_windows.reference_kind,
        1 as is_this_week,
        lost_time_answers.minutes
    from reference_windows
    inner join lost_time_answers
        on reference_windows.service_id = lost_time_answers.service_id
        and reference_windows.week_start = lost_time_answers.week_start

    union all

    select
        reference_windows.service_id,
        reference_windows.week_start,
        reference_windows.reference_kind,
        0 as is_this_week,
        lost_time_answers.minutes
    from reference_windows
    inner join lost_time_answers
        on reference_windows.service_id = lost_time_answers.service_id
        and lost_time_answers.week_start >= reference_windows.reference_start
        and lost_time_answers.week_start <= reference_windows.reference_end

),

lost_time_ties as (

    select
        service_id,
        week_start,
        reference_kind,
        minutes,
        count(*) as tied
    from lost_time_test_answers
    group by service_id, week_start, reference_kind, minutes

),

-- The rank-sum of this week's answers, and the tie term sum(t^3 - t) of the variance.
lost_time_rank_sums as (

    select
        answers.service_id,
        answers.week_start,
        answers.reference_kind,
        sum(case when answers.is_this_week = 1 then answers.mid_rank else 0 end) as rank_sum,
        sum(answers.is_this_week) as this_week_answers,
        count(*) as answers,
        max(ties.tie_term) as tie_term
    from (
        select
            service_id,
            week_start,
            reference_kind,
            is_this_week,
            rank() over (partition by service_id, week_start, reference_kind order by minutes)
                + (count(*) over (partition by service_id, week_start, reference_kind, minutes) - 1)
                / 2.0 as mid_rank
        from lost_time_test_answers
    ) as answers
    inner join (
        select
            service_id,
            week_start,
            reference_kind,
            sum(cast(tied as double) * tied * tied - tied) as tie_term
        from lost_time_ties
        group by service_id, week_start, reference_kind
    ) as ties
        on answers.service_id = ties.service_id
        and answers.week_start = ties.week_start
        and answers.reference_kind = ties.reference_kind
    group by answers.service_id, answers.week_start, answers.reference_kind

),

-- Both sides of every test: the published values and their intervals, the difference the test
-- judges and its standard error (docs/metrics.md, measured in quality/uncertainty.py). No test
-- where either side is low sample.
--   happiness: the adjusted-Wald difference, centre_now - centre_ref over
--     sqrt(se_now^2 + se_ref^2), each side's adjusted-Wald centre and standard error;
--   lost time: the Mann-Whitney rank-sum of this week's answers less its expectation under no
--     change, m (N + 1) / 2, moved 0.5 towards 0 (continuity), over
--     sqrt(m m_ref / 12 ((N + 1) - ties / (N (N - 1)))). Both sides need
--     min_lost_time_answers_to_test answers. Its detectable change is in minutes: what
--     multiplying every reference answer by exp(1.96 se) would add to the mean, se that of mean
--     log(1 + minutes) with both windows' variance pooled.
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
        {{ happiness_interval('this_week.promoters', 'this_week.detractors', 'this_week.responses', 'low') }} as value_ci_low,
        {{ happiness_interval('this_week.promoters', 'this_week.detractors', 'this_week.responses', 'high') }} as value_ci_high,
        cast(100 * (reference.promoters - reference.detractors) as double) / reference.responses as reference_value,
        {{ happiness_interval('reference.promoters', 'reference.detractors', 'reference.responses', 'low') }} as reference_ci_low,
        {{ happiness_interval('reference.promoters', 'reference.detractors', 'reference.responses', 'high') }} as reference_ci_high,
        {{ adjusted_happiness('this_week.promoters', 'this_week.detractors', 'this_week.responses') }}
            - {{ adjusted_happiness('reference.promoters', 'reference.detractors', 'reference.responses') }}
            as tested_delta,
        {{ adjusted_happiness_difference_error('this_week', 'reference') }} as tested_se,
        {{ z_95() }} * {{ adjusted_happiness_difference_error('this_week', 'reference') }} as minimum_detectable_change
    from watched_weeks as this_week
    inner join reference_counts as reference
        on this_week.service_id = reference.service_id
        and this_week.week_start = reference.week_start
    where this_week.responses >= {{ var('min_responses') }}
        and reference.responses >= {{ var('min_responses') }}

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
        {{ lost_time_interval('cast(this_week.lost_time_sum as double) / this_week.lost_time_responses', 'this_week.lost_time_responses', 'this_week.lost_time_sum', 'this_week.lost_time_sum_of_squares', 'low') }} as value_ci_low,
        {{ lost_time_interval('cast(this_week.lost_time_sum as double) / this_week.lost_time_responses', 'this_week.lost_time_responses', 'this_week.lost_time_sum', 'this_week.lost_time_sum_of_squares', 'high') }} as value_ci_high,
        cast(reference.lost_time_sum as double) / reference.lost_time_responses as reference_value,
        {{ lost_time_interval('cast(reference.lost_time_sum as double) / reference.lost_time_responses', 'reference.lost_time_responses', 'reference.lost_time_sum', 'reference.lost_time_sum_of_squares', 'low') }} as reference_ci_low,
        {{ lost_time_interval('cast(reference.lost_time_sum as double) / reference.lost_time_responses', 'reference.lost_time_responses', 'reference.lost_time_sum', 'reference.lost_time_sum_of_squares', 'high') }} as reference_ci_high,
        case
            when ranks.rank_sum - ranks.this_week_answers * (ranks.answers + 1) / 2.0 > 0.5
                then ranks.rank_sum - ranks.this_week_answers * (ranks.answers + 1) / 2.0 - 0.5
            when ranks.rank_sum - ranks.this_week_answers * (ranks.answers + 1) / 2.0 < -0.5
                then ranks.rank_sum - ranks.this_week_answers * (ranks.answers + 1) / 2.0 + 0.5
            else 0
        end as tested_delta,
        sqrt({{ at_least(
            'cast(ranks.this_week_answers as double) * (ranks.answers - ranks.this_week_answers) / 12'
            ~ ' * ((ranks.answers + 1) - ranks.tie_term / (cast(ranks.answers as double) * (ranks.answers - 1)))', 0) }})
            as tested_se,
        cast(reference.lost_time_sum as double) / reference.lost_time_responses
            * (exp({{ z_95() }} * {{ pooled_log_standard_error('this_week', 'reference') }}) - 1)
            as minimum_detectable_change
    from watched_weeks as this_week
    inner join reference_counts as reference
        on this_week.service_id = reference.service_id
        and this_week.week_start = reference.week_start
    inner join lost_time_rank_sums as ranks
        on reference.service_id = ranks.service_id
        and reference.week_start = ranks.week_start
        and reference.reference_kind = ranks.reference_kind
    where this_week.responses >= {{ var('min_responses') }}
        and reference.responses >= {{ var('min_responses') }}
        and this_week.lost_time_responses >= {{ var('min_lost_time_answers_to_test') }}
        and reference.lost_time_responses >= {{ var('min_lost_time_answers_to_test') }}

),

-- z is undefined when nothing varies (e.g. lost time of 30 minutes in every answer of both
-- windows): no test then.
tested as (

    select
        *,
        value - reference_value as delta,
        case when tested_se > 0 then tested_delta / tested_se end as z
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
        cast(value_ci_low as double) as value_ci_low,
        cast(value_ci_high as double) as value_ci_high,
        cast(reference_value as double) as reference_value,
        cast(reference_ci_low as double) as reference_ci_low,
        cast(reference_ci_high as double) as reference_ci_high,
        cast(delta as double) as delta,
        cast(z as double) as z,
        cast(p_value as double) as p_value,
        cast(q_value as double) as q_value,
        -- q <= 0.05, and the published change (the difference of the reported values) clears
        -- what these answers could detect, in the direction the test found: the test judges the
        -- adjusted (happiness) or log (lost time) difference, and a reader sees delta.
        cast(coalesce(
            q_value <= 0.05
            and abs(delta) >= minimum_detectable_change
            and (tested_delta > 0) = (delta > 0),
            false
        ) as boolean) as is_significant,
        cast(case
            when delta = 0 then null
            when (indicator = 'happiness_score') = (delta > 0) then 'better'
            else 'worse'
        end as {{ dbt.type_string() }}) as direction,
        cast(minimum_detectable_change as double) as minimum_detectable_change
    from bounded

)

select * from final
