{{
    config(
        materialized='incremental',
        unique_key='response_id',
        incremental_strategy='replace_extracts',
        partition_by=replaced_partitions('extract_date'),
        meta={'extract_date_columns': 'extract_date'},
        on_schema_change='fail',
    )
}}

with

-- A response re-sent in a later extract replaces the earlier copy.
-- In an incremental run, the keys of the run's extract dates and those this model took from
-- them, chosen among all their versions.
latest as (

    {{ latest_versions(source('raw', 'survey_responses'), 'response_id', '_extract_date desc, _source_line desc') }}

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
    from latest

)

select * from renamed
