{#- Schemas are named by folder (raw, staging, intermediate, marts, reference), not prefixed by
    the target schema, so the Dagster group, the dbt folder and the warehouse schema agree. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
