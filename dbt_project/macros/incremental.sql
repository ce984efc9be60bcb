{#- How the incremental models take in a run's rows, per engine. Models call these in their
    config, so one model serves every target.

    DuckDB replaces what the run's extract dates gave (replace_extracts, below): the rows the
    model took from those dates go, then the keys the run rebuilds are deleted and their new
    rows inserted (delete+insert).
    Spark's Parquet tables have no DELETE, and MERGE needs Delta Lake or Iceberg, whose jars are
    not part of pyspark: on Spark the incremental models rebuild in full on every run (correct,
    and what a small scale-out trial needs; a cluster with Delta Lake would use `merge`). -#}
{% macro incremental_strategy() -%}
    {{ return(adapter.dispatch('incremental_strategy', 'xmo')()) }}
{%- endmacro %}

{% macro default__incremental_strategy() -%}
    {{ return('replace_extracts') }}
{%- endmacro %}

{% macro spark__incremental_strategy() -%}
    {{ return('append') }}
{%- endmacro %}

{#- The replace_extracts strategy (dbt calls get_incremental_<strategy>_sql): delete+insert,
    preceded on a run with an extract window by the deletion of every row the model took from
    an extract date of the window (from_window_extracts: the model's meta
    `extract_date_columns`). A day delivered again replaces its raw rows, and a key only its
    old delivery held (a survey response, a ticket version, a device-day) is in none of the
    run's rows: delete+insert alone would keep it until a full refresh. The run's rows are
    computed before (the materialization's temporary table), so the model can still read its
    own rows of the window to find the keys to choose again. On a daily run (a new date) the
    deletion finds nothing, and DuckDB knows it from the table's statistics without a scan. -#}
{% macro get_incremental_replace_extracts_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_replace_extracts_sql', 'xmo')(arg_dict)) }}
{%- endmacro %}

{% macro default__get_incremental_replace_extracts_sql(arg_dict) -%}
    {%- if extract_window() -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ from_window_extracts() }};
    {% endif -%}
    {{ get_incremental_delete_insert_sql(arg_dict) }}
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
