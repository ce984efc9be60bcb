{{
    config(
        materialized='incremental',
        incremental_strategy='replace_periods',
        meta={'period_column': 'week_start', 'touched_by': 'experience', 'period_grain': 'week'},
        on_schema_change='fail',
    )
}}
{{ experience_rollup(['service_id'], 'week', 'week_start') }}
