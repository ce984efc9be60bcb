{{ experience_rollup(['service_id'], 'month', 'month_start') }}
