{#- The day before a date, as a date, on both engines (dbt.dateadd goes through timestamps and
    the session time zone on Spark). -#}
{% macro day_before(date_expression) -%}
    {{ return(adapter.dispatch('day_before', 'xmo')(date_expression)) }}
{%- endmacro %}

{% macro default__day_before(date_expression) -%}
    cast({{ date_expression }} - interval 1 day as date)
{%- endmacro %}

{% macro spark__day_before(date_expression) -%}
    date_sub({{ date_expression }}, 1)
{%- endmacro %}
