{{
    config(
        materialized='incremental',
        incremental_strategy='replace_periods',
        meta={'period_column': 'month_start', 'touched_by': 'experience', 'period_grain': 'month'},
        on_schema_change='fail',
    )
}}
{{ experience_rollup(['service_id'], 'month', 'month_start') }}
