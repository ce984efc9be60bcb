{#- The exact median (DESIGN §4 MTTR); engines spell it differently. -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'xmo')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro spark__median(expression) -%}
    percentile({{ expression }}, 0.5)
{%- endmacro %}
