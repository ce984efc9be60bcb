{%- set monthly_indicators = ['happiness_score', 'avg_lost_time_minutes', 'response_rate',
                              'mttr_hours', 'sla_attainment', 'reopen_rate'] -%}
with

monthly as (

    select * from {{ ref('service_experience_monthly') }}

),

device_days as (

    select snapshot_date, dex_score from {{ ref('int_device_days_scored') }}

),

targets as (

    select * from {{ ref('int_xla_targets_resolved') }}

),

baselines as (

    select * from {{ ref('xla_baseline') }}

),

services as (

    select service_id, xm_scope_start from {{ ref('dim_service') }}

),

-- DEX is organisation-wide: it scores the services that carry a dex_score target.
dex_monthly as (

    select
        cast({{ dbt.date_trunc('month', 'snapshot_date') }} as date) as month_start,
        avg(dex_score) as dex_score
    from device_days
    group by 1

),

actuals as (

    {% for indicator in monthly_indicators -%}
    select service_id, month_start, '{{ indicator }}' as indicator, {{ indicator }} as actual
    from monthly
    union all
    {% endfor -%}
    select targets.service_id, dex_monthly.month_start, 'dex_score' as indicator,
        dex_monthly.dex_score as actual
    from dex_monthly
    inner join targets
        on targets.indicator = 'dex_score'

),

-- Relative targets (macros/xla_targets.sql) become the indicator's unit against the baseline.
judged as (

    select
        actuals.service_id,
        actuals.month_start,
        actuals.indicator,
        actuals.actual,
        baselines.baseline_value,
        {{ absolute_target('targets.target', 'targets.relative_to_baseline', 'targets.higher_is_better', 'baselines.baseline_value') }}
            as target,
        {{ absolute_tolerance('targets.amber_tolerance', 'targets.relative_to_baseline', 'baselines.baseline_value') }}
            as amber_tolerance,
        targets.higher_is_better,
        {{ target_rule('targets.target', 'targets.relative_to_baseline') }} as target_rule,
        services.xm_scope_start
    from actuals
    inner join targets
        on actuals.service_id = targets.service_id
        and actuals.indicator = targets.indicator
    left join baselines
        on actuals.service_id = baselines.service_id
        and actuals.indicator = baselines.indicator
    left join services
        on actuals.service_id = services.service_id

),

scored as (

    select
        service_id,
        month_start,
        indicator,
        actual,
        baseline_value,
        target,
        amber_tolerance,
        higher_is_better,
        target_rule,
        actual - baseline_value as delta_vs_baseline,
        coalesce(
            month_start >= cast({{ dbt.date_trunc('month', 'xm_scope_start') }} as date),
            false
        ) as in_scope,
        -- Green meets the target, amber misses it by no more than the tolerance, red beyond;
        -- a low-sample (NULL) actual, or a relative target without a baseline, cannot be judged.
        -- The shortfall is rounded so that a value exactly on a boundary (0.87 against
        -- 0.90 - 0.03) is not pushed over by float error.
        case
            when actual is null or target is null then 'insufficient_data'
            when round(
                case when higher_is_better then target - actual else actual - target end, 9) <= 0
                then 'green'
            when round(
                case when higher_is_better then target - actual else actual - target end, 9)
                <= round(amber_tolerance, 9) then 'amber'
            else 'red'
        end as status
    from judged

),

final as (

    select
        cast(service_id as {{ dbt.type_string() }}) as service_id,
        cast(month_start as date) as month_start,
        cast(indicator as {{ dbt.type_string() }}) as indicator,
        cast(actual as double) as actual,
        cast(baseline_value as double) as baseline_value,
        cast(target as double) as target,
        cast(amber_tolerance as double) as amber_tolerance,
        cast(higher_is_better as boolean) as higher_is_better,
        cast(target_rule as {{ dbt.type_string() }}) as target_rule,
        cast(delta_vs_baseline as double) as delta_vs_baseline,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(in_scope as boolean) as in_scope
    from scored

)

select * from final
