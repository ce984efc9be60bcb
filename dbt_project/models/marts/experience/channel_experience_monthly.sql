{{
    config(
        materialized='incremental',
        incremental_strategy='replace_periods',
        meta={'period_column': 'month_start', 'touched_by': 'experience', 'period_grain': 'month'},
        on_schema_change='fail',
    )
}}
{#- The same metrics broken down by channel (normalised contact_type) and ticket type. -#}
{{ experience_rollup(['channel', 'ticket_type'], 'month', 'month_start') }}
