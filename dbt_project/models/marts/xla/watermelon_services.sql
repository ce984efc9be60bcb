with

monthly as (

    select * from {{ ref('service_experience_monthly') }}

),

-- Targets in the indicator's unit: a relative one is resolved against the service's baseline.
targets as (

    select
        targets.service_id,
        targets.indicator,
        {{ absolute_target('targets.target', 'targets.relative_to_baseline', 'targets.higher_is_better', 'baselines.baseline_value') }}
            as target
    from {{ ref('int_xla_targets_resolved') }} as targets
    left join {{ ref('xla_baseline') }} as baselines
        on targets.service_id = baselines.service_id
        and targets.indicator = baselines.indicator

),

with_targets as (

    select
        monthly.service_id,
        monthly.month_start,
        monthly.sla_attainment,
        monthly.happiness_score,
        monthly.responses,
        monthly.low_sample,
        sla_targets.target as sla_target,
        happiness_targets.target as happiness_target
    from monthly
    inner join targets as sla_targets
        on monthly.service_id = sla_targets.service_id
        and sla_targets.indicator = 'sla_attainment'
    inner join targets as happiness_targets
        on monthly.service_id = happiness_targets.service_id
        and happiness_targets.indicator = 'happiness_score'

),

-- Operations look green (SLA target met) while users are unhappy (happiness below target).
-- A low-sample month has no happiness score and is never called a watermelon.
final as (

    select
        cast(service_id as {{ dbt.type_string() }}) as service_id,
        cast(month_start as date) as month_start,
        cast(sla_attainment as double) as sla_attainment,
        cast(happiness_score as double) as happiness_score,
        cast(sla_target as double) as sla_target,
        cast(happiness_target as double) as happiness_target,
        cast(responses as bigint) as responses,
        cast(low_sample as boolean) as low_sample,
        cast(
            coalesce(sla_attainment >= sla_target and happiness_score < happiness_target, false)
            as boolean
        ) as is_watermelon
    from with_targets

)

select * from final
