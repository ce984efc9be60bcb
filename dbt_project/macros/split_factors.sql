{#- One row per factor code of a ';'-separated list, as a lateral table `factor`. -#}
{% macro factor_codes(column) -%}
    {{ return(adapter.dispatch('factor_codes', 'xmo')(column)) }}
{%- endmacro %}

{% macro default__factor_codes(column) -%}
    unnest(string_split({{ column }}, ';'))
{%- endmacro %}

{% macro spark__factor_codes(column) -%}
    explode(split({{ column }}, ';'))
{%- endmacro %}
