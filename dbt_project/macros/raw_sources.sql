{#- The raw source tables, made visible to the target before a run.

    DuckDB: ingestion loads raw.* into the warehouse file itself; nothing to do.
    Spark: ingestion writes each raw table as Parquet under XMO_RAW_PARQUET_DIR/<table>/ (one
    file per extract date). Each run registers them afresh as external tables: the schema and
    the file listing are read again, so a day or a column written since the last run is seen;
    dropping an external table leaves its files alone. -#}
{% macro register_raw_sources() -%}
    {{ return(adapter.dispatch('register_raw_sources', 'xmo')()) }}
{%- endmacro %}

{% macro default__register_raw_sources() -%}
    select 1
{%- endmacro %}

{% macro spark__register_raw_sources() -%}
    {%- if execute -%}
        {%- set root = env_var('XMO_RAW_PARQUET_DIR', '../data/warehouse/raw_parquet') -%}
        {%- do run_statement('create database if not exists raw') -%}
        {%- for source in graph.sources.values() if source.source_name == 'raw' -%}
            {%- do run_statement('drop table if exists raw.' ~ source.name) -%}
            {%- do run_statement(
                'create table raw.' ~ source.name
                ~ " using parquet location '" ~ root ~ '/' ~ source.name ~ "'"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
