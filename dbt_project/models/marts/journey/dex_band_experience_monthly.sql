{{
    config(
        materialized='incremental',
        incremental_strategy='replace_periods',
        meta={'period_column': 'month_start', 'touched_by': 'journey', 'period_grain': 'month'},
        on_schema_change='fail',
    )
}}
{#- The same journey figures by DEX band (poor / fair / good, macros/dex.sql), per department and
    for the organisation (department 'all'), and each band against the good band of the same
    department and month: the ratio of tickets per employee and of lost time per employee, with
    a 95 % interval from the issue-18 standard errors of each mean, combined on the log scale:
    se(log r) = sqrt(se_b² / mean_b² + se_good² / mean_good²), interval r · exp(∓1.96 se). -#}
with

{{ journey_ctes('dex_band') }},

-- Per employee means and their standard errors (s / sqrt(n)), from sums and sums of squares.
per_employee as (

    select
        *,
        cast(tickets_opened as double) / employees as tickets_mean,
        sqrt({{ at_least(
            '(cast(tickets_opened_squares as double) - cast(tickets_opened as double) * tickets_opened / employees) / (employees - 1)',
            0) }} / employees) as tickets_se,
        cast(lost_time_minutes as double) / employees as lost_time_mean,
        sqrt({{ at_least(
            '(cast(lost_time_minutes_squares as double) - cast(lost_time_minutes as double) * lost_time_minutes / employees) / (employees - 1)',
            0) }} / employees) as lost_time_se
    from journey_cells
    where employees >= 2

),

against_good as (

    select
        band.department,
        band.dex_band,
        band.month_start,
        {% for measure in ['tickets', 'lost_time'] -%}
        case
            when band.dex_band <> 'good' and not band.low_sample and not good.low_sample
                and band.{{ measure }}_mean > 0 and good.{{ measure }}_mean > 0
                then band.{{ measure }}_mean / good.{{ measure }}_mean
        end as {{ measure }}_ratio,
        case
            when band.{{ measure }}_mean > 0 and good.{{ measure }}_mean > 0
                then sqrt(
                    band.{{ measure }}_se * band.{{ measure }}_se
                        / (band.{{ measure }}_mean * band.{{ measure }}_mean)
                    + good.{{ measure }}_se * good.{{ measure }}_se
                        / (good.{{ measure }}_mean * good.{{ measure }}_mean)
                )
        end as {{ measure }}_log_se{% if not loop.last %},{% endif %}
        {% endfor %}
    from per_employee as band
    inner join per_employee as good
        on band.department = good.department
        and band.month_start = good.month_start
        and good.dex_band = 'good'

),

final as (

    select
        cast(journey_cells.dex_band as {{ dbt.type_string() }}) as dex_band,
        cast(journey_cells.department as {{ dbt.type_string() }}) as department,
        cast(journey_cells.month_start as date) as month_start,
        cast(journey_cells.employees as bigint) as employees,
        {{ journey_figures() }},
        {% for measure in ['tickets', 'lost_time'] -%}
        cast(against_good.{{ measure }}_ratio as double) as {{ measure }}_ratio_vs_good,
        cast(against_good.{{ measure }}_ratio
            * exp(-{{ z_95() }} * against_good.{{ measure }}_log_se) as double)
            as {{ measure }}_ratio_ci_low,
        cast(against_good.{{ measure }}_ratio
            * exp({{ z_95() }} * against_good.{{ measure }}_log_se) as double)
            as {{ measure }}_ratio_ci_high{% if not loop.last %},{% endif %}
        {% endfor %}
    from journey_cells
    left join against_good
        on journey_cells.department = against_good.department
        and journey_cells.dex_band = against_good.dex_band
        and journey_cells.month_start = against_good.month_start

)

select * from final
