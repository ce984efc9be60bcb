{#- A statement that returns no rows (DDL, insert), run now. dbt's run_query fetches a result,
    which the Thrift server has none of for these (PyHive fails on it). -#}
{% macro run_statement(sql) -%}
    {%- do adapter.execute(sql, auto_begin=False, fetch=False) -%}
{%- endmacro %}
