{#- Continuous percentile (p25/p75 of weekly values in the baseline). -#}
{% macro percentile(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'xmo')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{#- Spark's exact percentile interpolates between neighbours as quantile_cont does. -#}
{% macro spark__percentile(expression, fraction) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}
