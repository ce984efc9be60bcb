-- Shown in Dagster as a check on the mart it guards (it reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'device_ticket_experience_monthly'}}}) }}
-- A returned row is a month where the journeys lost or doubled tickets: the tickets opened by
-- employees with a primary device that month (counted from the tickets themselves) differ from
-- the journeys' sum, or an organisation-wide row of either journey mart differs from the
-- journeys it describes.
with

employee_months as (

    select employee_key, month_start, model, dex_band
    from {{ ref('int_employee_device_month') }}

),

tickets_of_employees_with_a_device as (

    select
        employee_months.month_start,
        count(*) as tickets
    from {{ ref('int_tickets_mapped_to_services') }} as tickets
    inner join employee_months
        on tickets.caller_key = employee_months.employee_key
        and cast({{ dbt.date_trunc('month', 'tickets.opened_at') }} as date) = employee_months.month_start
    group by employee_months.month_start

),

journeys as (

    select * from {{ ref('int_employee_journeys_joined') }}

),

journey_tickets as (

    select month_start, sum(tickets_opened) as tickets
    from journeys
    group by month_start

),

{% for mart, dimension in [('device_ticket_experience_monthly', 'model'), ('dex_band_experience_monthly', 'dex_band')] -%}
{{ dimension }}_published as (

    select month_start, {{ dimension }}, tickets_opened
    from {{ ref(mart) }}
    where department = 'all' and not low_sample

),

{{ dimension }}_described as (

    select
        journeys.month_start,
        journeys.{{ dimension }},
        sum(journeys.tickets_opened) as tickets
    from journeys
    group by journeys.month_start, journeys.{{ dimension }}

),

{% endfor -%}
mismatches as (

    select
        'journeys vs tickets' as comparison,
        coalesce(journey_tickets.month_start, tickets_of_employees_with_a_device.month_start)
            as month_start,
        cast(null as {{ dbt.type_string() }}) as cell,
        journey_tickets.tickets as expected,
        tickets_of_employees_with_a_device.tickets as actual
    from journey_tickets
    full outer join tickets_of_employees_with_a_device
        on journey_tickets.month_start = tickets_of_employees_with_a_device.month_start
    where coalesce(journey_tickets.tickets, 0)
        <> coalesce(tickets_of_employees_with_a_device.tickets, 0)

    {% for dimension in ['model', 'dex_band'] -%}
    union all

    select
        '{{ dimension }} rows vs journeys' as comparison,
        {{ dimension }}_published.month_start,
        {{ dimension }}_published.{{ dimension }} as cell,
        {{ dimension }}_described.tickets as expected,
        {{ dimension }}_published.tickets_opened as actual
    from {{ dimension }}_published
    left join {{ dimension }}_described
        on {{ dimension }}_published.month_start = {{ dimension }}_described.month_start
        and {{ dimension }}_published.{{ dimension }} = {{ dimension }}_described.{{ dimension }}
    where {{ dimension }}_described.tickets is null
        or {{ dimension }}_published.tickets_opened <> {{ dimension }}_described.tickets
    {% endfor %}

)

select * from mismatches
