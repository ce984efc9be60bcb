{#- How the incremental models take in a run's rows, per engine. Models call these in their
    config, so one model serves every target.

    DuckDB deletes the keys a run rebuilds and inserts their new rows (delete+insert).
    Spark's Parquet tables have no DELETE, and MERGE needs Delta Lake or Iceberg, whose jars are
    not part of pyspark: on Spark the incremental models rebuild in full on every run (correct,
    and what a small scale-out trial needs; a cluster with Delta Lake would use `merge`). -#}
{% macro incremental_strategy() -%}
    {{ return(adapter.dispatch('incremental_strategy', 'xmo')()) }}
{%- endmacro %}

{% macro default__incremental_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__incremental_strategy() -%}
    {{ return('append') }}
{%- endmacro %}

{#- True where incremental models must rebuild in full (see above); none leaves dbt's default. -#}
{% macro rebuilds_in_full() -%}
    {{ return(adapter.dispatch('rebuilds_in_full', 'xmo')()) }}
{%- endmacro %}

{% macro default__rebuilds_in_full() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__rebuilds_in_full() -%}
    {{ return(true) }}
{%- endmacro %}
