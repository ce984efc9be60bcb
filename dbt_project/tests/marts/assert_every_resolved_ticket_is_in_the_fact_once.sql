-- Shown in Dagster as a check on the mart it guards (it reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'fct_ticket_experience'}}}) }}
-- A returned row means fct_ticket_experience lost or doubled a resolved ticket.
select
    (select count(*) from {{ ref('int_tickets_mapped_to_services') }} where resolved_at is not null)
        as resolved_tickets,
    (select count(*) from {{ ref('fct_ticket_experience') }}) as fact_rows
where
    (select count(*) from {{ ref('int_tickets_mapped_to_services') }} where resolved_at is not null)
    <> (select count(*) from {{ ref('fct_ticket_experience') }})
