-- Shown in Dagster as a check on the mart it guards (it reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'service_experience_weekly'}}}) }}
-- A returned row means the weekly or monthly mart lost or doubled resolved tickets: the sum
-- of tickets_resolved differs from the resolved tickets in the intermediate layer.
with

resolved as (

    select count(*) as tickets
    from {{ ref('int_tickets_mapped_to_services') }}
    where resolved_at is not null

),

weekly as (

    select coalesce(sum(tickets_resolved), 0) as tickets from {{ ref('service_experience_weekly') }}

),

monthly as (

    select coalesce(sum(tickets_resolved), 0) as tickets from {{ ref('service_experience_monthly') }}

),

channels as (

    select coalesce(sum(tickets_resolved), 0) as tickets from {{ ref('channel_experience_monthly') }}

)

select
    resolved.tickets as resolved_tickets,
    weekly.tickets as weekly_tickets,
    monthly.tickets as monthly_tickets,
    channels.tickets as channel_tickets
from resolved
cross join weekly
cross join monthly
cross join channels
where weekly.tickets <> resolved.tickets
    or monthly.tickets <> resolved.tickets
    or channels.tickets <> resolved.tickets
