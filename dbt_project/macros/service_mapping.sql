{#- How a ticket's field and a mapping rule's value are compared: case and spacing do not matter
    ("Service  Desk " is "service desk"). -#}
{% macro mapping_key(expression) -%}
    {{ return(adapter.dispatch('mapping_key', 'xmo')(expression)) }}
{%- endmacro %}

{% macro default__mapping_key(expression) -%}
    nullif(regexp_replace(lower(trim({{ expression }})), '\s+', ' ', 'g'), '')
{%- endmacro %}

{% macro spark__mapping_key(expression) -%}
    nullif(regexp_replace(lower(trim({{ expression }})), '\\s+', ' '), '')
{%- endmacro %}

{#- A rule value with `*` wildcards as a LIKE pattern: every other character stands for itself
    (`%` and `_` are escaped with `!`). -#}
{% macro mapping_pattern(key) -%}
    replace(replace(replace(replace({{ key }}, '!', '!!'), '%', '!%'), '_', '!_'), '*', '%')
{%- endmacro %}

{#- The ticket fields mapping rules may name. -#}
{% macro mapping_fields() -%}
    {{ return(['business_service', 'assignment_group', 'category', 'subcategory', 'cmdb_ci']) }}
{%- endmacro %}
