{#- The same metrics broken down by channel (normalised contact_type) and ticket type. -#}
{{ experience_rollup(['channel', 'ticket_type'], 'month', 'month_start') }}
