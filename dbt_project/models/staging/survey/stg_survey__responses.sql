{{
    config(
        materialized='incremental',
        unique_key='response_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

-- In an incremental run, only the keys of the run's extract dates (all their versions).
candidates as (

    {{ versions_of_touched_keys(source('raw', 'survey_responses'), 'response_id') }}

),

-- A response re-sent in a later extract replaces the earlier copy.
ranked as (

    select
        *,
        row_number() over (
            partition by response_id
            order by _extract_date desc, _source_line desc
        ) as version_rank
    from candidates

),

renamed as (

    select
        response_id,
        lower(survey_type) as survey_type,
        ticket_number,
        lower(topic) as topic,
        responded_at,
        {{ pseudonymize('respondent_id') }} as respondent_key,
        cast(happiness as integer) as happiness,
        cast(lost_time_minutes as integer) as lost_time_minutes,
        factors,
        language,
        _extract_date as extract_date
    from ranked
    where version_rank = 1

)

select * from renamed
