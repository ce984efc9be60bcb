{#- The journey marts (issue 19): employee months on their primary device grouped by department
    and one dimension (device model or DEX band), plus the organisation as department 'all'.

    Privacy: a cell describing fewer than min_responses employees shows no ticket, answer or DEX
    figure. That alone would not do: a model's 'all' row minus its visible department cells gives
    the hidden cell back. So when a dimension's month has hidden department cells, the smallest
    visible one is hidden too until the hidden cells together describe at least min_responses
    employees (secondary suppression, as statistical offices do). `low_sample` marks both.

    Emits CTEs (without `with`); the last, `journey_cells`, has the published figures and, for
    the ratios of the band mart, the per-employee sums and sums of squares. -#}
{% macro journey_ctes(dimension) -%}
{%- set minimum = var('min_responses') -%}
journeys as (

    select * from {{ ref('int_employee_journeys_joined') }}
    where {{ dimension }} is not null
        and {{ in_touched_periods('month_start') }}

),

{% for level in ['department', 'organisation'] -%}
by_{{ level }} as (

    select
        {% if level == 'department' %}department{% else %}'all'{% endif %} as department,
        {{ dimension }},
        month_start,
        count(*) as employees,
        count(distinct device_id) as devices,
        avg(dex_score) as dex_score,
        sum(tickets_opened) as tickets_opened,
        sum(tickets_opened * tickets_opened) as tickets_opened_squares,
        sum(hardware_tickets) as hardware_tickets,
        sum(responses) as responses,
        sum(promoters) as promoters,
        sum(detractors) as detractors,
        sum(lost_time_responses) as lost_time_responses,
        sum(lost_time_minutes) as lost_time_minutes,
        sum(lost_time_minutes * lost_time_minutes) as lost_time_minutes_squares
    from journeys
    group by {% if level == 'department' %}department, {% endif %}{{ dimension }}, month_start

),

{% endfor -%}
cells as (

    select * from by_department
    union all
    select * from by_organisation

),

sized as (

    select
        *,
        sum(case when department <> 'all' and employees < {{ minimum }} then 1 else 0 end) over (
            partition by {{ dimension }}, month_start
        ) as small_cells,
        row_number() over (
            partition by {{ dimension }}, month_start, department = 'all'
            order by employees, department
        ) as size_rank,
        coalesce(sum(employees) over (
            partition by {{ dimension }}, month_start, department = 'all'
            order by employees, department
            rows between unbounded preceding and 1 preceding
        ), 0) as employees_in_smaller_cells
    from cells

),

journey_cells as (

    select
        *,
        case
            when employees < {{ minimum }} then true
            when department <> 'all'
                and small_cells > 0
                and employees_in_smaller_cells < {{ minimum }}
                then true
            else false
        end as low_sample
    from sized

)
{%- endmacro %}

{#- A figure of a journey cell, or NULL where the cell is low sample. -#}
{% macro unless_low_sample(expression) -%}
    case when not low_sample then {{ expression }} end
{%- endmacro %}

{#- The ticket and answer columns both journey marts publish, masked by low_sample. Arithmetic in
    double from the start: Spark would otherwise divide decimals and round to 6 places. -#}
{% macro journey_figures() -%}
        cast({{ unless_low_sample('dex_score') }} as double) as dex_score,
        cast({{ unless_low_sample('tickets_opened') }} as bigint) as tickets_opened,
        cast({{ unless_low_sample('100 * cast(tickets_opened as double) / employees') }} as double)
            as tickets_per_100_employees,
        cast({{ unless_low_sample('hardware_tickets') }} as bigint) as hardware_tickets,
        cast({{ unless_low_sample('responses') }} as bigint) as responses,
        cast({{ unless_low_sample(when_enough_responses('responses',
            'cast(100 * (promoters - detractors) as double) / responses')) }} as double)
            as happiness_score,
        cast({{ unless_low_sample(when_enough_responses('responses',
            'cast(lost_time_minutes as double) / nullif(lost_time_responses, 0)')) }} as double)
            as avg_lost_time_minutes,
        cast({{ unless_low_sample(when_enough_responses('responses',
            'cast(lost_time_minutes as double) / 60')) }} as double) as total_lost_hours,
        cast({{ unless_low_sample(when_enough_responses('responses',
            '100 * cast(lost_time_minutes as double) / 60 / employees')) }} as double)
            as lost_hours_per_100_employees,
        cast(low_sample as boolean) as low_sample
{%- endmacro %}
