{{ experience_rollup(['service_id'], 'week', 'week_start') }}
