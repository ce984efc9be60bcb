with

responses as (

    select
        response_id,
        service_id,
        cast({{ dbt.date_trunc('month', 'responded_at') }} as date) as month_start,
        lost_time_minutes,
        factors
    from {{ ref('int_survey_responses_joined_to_tickets') }}
    where survey_type = 'ticket' and factors is not null

),

factor_catalog as (

    select * from {{ ref('survey_factors') }}

),

-- Spark allows no expression around the function that splits a list into rows: trim after.
response_factor_codes as (

    select
        response_id,
        service_id,
        month_start,
        lost_time_minutes,
        {{ factor_codes('factors') }} as factor_code
    from responses

),

response_factors as (

    select
        response_id,
        service_id,
        month_start,
        lost_time_minutes,
        trim(factor_code) as factor
    from response_factor_codes

),

negative_mentions as (

    select response_factors.*
    from response_factors
    inner join factor_catalog
        on response_factors.factor = factor_catalog.factor_code
    where factor_catalog.polarity = 'negative'

),

-- Responses of the service and month that cite any negative factor.
negative_responses as (

    select
        service_id,
        month_start,
        count(distinct response_id) as negative_responses
    from negative_mentions
    group by service_id, month_start

),

by_factor as (

    select
        service_id,
        month_start,
        factor,
        count(distinct response_id) as responses,
        cast(coalesce(sum(lost_time_minutes), 0) as double) / 60 as lost_hours
    from negative_mentions
    group by service_id, month_start, factor

),

final as (

    select
        cast(by_factor.month_start as date) as month_start,
        cast(by_factor.service_id as {{ dbt.type_string() }}) as service_id,
        cast(by_factor.factor as {{ dbt.type_string() }}) as factor,
        cast(by_factor.responses as bigint) as responses,
        cast(by_factor.lost_hours as double) as lost_hours,
        cast(by_factor.responses as double) / negative_responses.negative_responses
            as share_of_negative,
        -- Where end users lose the most time this month, across services.
        cast(row_number() over (
            partition by by_factor.month_start
            order by by_factor.lost_hours desc, by_factor.responses desc,
                by_factor.service_id, by_factor.factor
        ) as bigint) as rank
    from by_factor
    inner join negative_responses
        on by_factor.service_id = negative_responses.service_id
        and by_factor.month_start = negative_responses.month_start

)

select * from final
