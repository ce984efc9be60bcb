with

targets as (

    select
        service_id,
        indicator,
        target,
        amber_tolerance,
        higher_is_better,
        {{ xla_targets_relative_column(ref('xla_targets')) }} as relative_to_baseline
    from {{ ref('xla_targets') }}

),

services as (

    select service_id from {{ ref('service_catalog') }}

),

defaults as (

    select * from targets where service_id = '*'

),

overrides as (

    select * from targets where service_id <> '*'

),

-- Every catalog service gets the default target of each indicator unless it has its own ...
defaulted as (

    select
        services.service_id,
        defaults.indicator,
        coalesce(overrides.target, defaults.target) as target,
        coalesce(overrides.amber_tolerance, defaults.amber_tolerance) as amber_tolerance,
        coalesce(overrides.higher_is_better, defaults.higher_is_better) as higher_is_better,
        coalesce(overrides.relative_to_baseline, defaults.relative_to_baseline)
            as relative_to_baseline
    from services
    cross join defaults
    left join overrides
        on services.service_id = overrides.service_id
        and defaults.indicator = overrides.indicator

),

-- ... and indicators without a default (dex_score) apply only where a service names them.
service_only as (

    select
        overrides.service_id,
        overrides.indicator,
        overrides.target,
        overrides.amber_tolerance,
        overrides.higher_is_better,
        overrides.relative_to_baseline
    from overrides
    left join defaults
        on overrides.indicator = defaults.indicator
    where defaults.indicator is null

)

select * from defaulted
union all
select * from service_only
