-- Shown in Dagster as a check on the mart it guards (it reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'service_experience_weekly'}}}) }}
-- A returned row means a mart lost or doubled survey responses: ticket-survey responses summed
-- over the weekly, monthly and channel marts, and proactive ones over the topic mart, differ
-- from staging.
with

staged as (

    select
        count(case when survey_type = 'ticket' then 1 end) as ticket_responses,
        count(case when survey_type = 'proactive' then 1 end) as proactive_responses
    from {{ ref('stg_survey__responses') }}

),

marts as (

    select
        (select coalesce(sum(responses), 0) from {{ ref('service_experience_weekly') }}) as weekly,
        (select coalesce(sum(responses), 0) from {{ ref('service_experience_monthly') }}) as monthly,
        (select coalesce(sum(responses), 0) from {{ ref('channel_experience_monthly') }}) as channels,
        (select coalesce(sum(responses), 0) from {{ ref('proactive_experience_monthly') }}) as proactive

)

select staged.*, marts.*
from staged
cross join marts
where marts.weekly <> staged.ticket_responses
    or marts.monthly <> staged.ticket_responses
    or marts.channels <> staged.ticket_responses
    or marts.proactive <> staged.proactive_responses
