{#- How the incremental models take in a run's rows: the replace_extracts strategy, on every
    target. A run replaces what its extract dates gave: the rows the model took from those dates
    go, the keys the run rebuilds get their new rows, every other row stays.
    DuckDB deletes and inserts (default__ below); Spark's Parquet tables have no DELETE (MERGE
    needs Delta Lake or Iceberg, whose jars are not part of pyspark), so there the model's table
    is partitioned by a date and the run rewrites whole partitions (spark__ below). -#}

{#- dbt calls get_incremental_<strategy>_sql; dbt-spark's materialization knows only its own
    strategies, so it is taught this one (dbt_spark_* below). -#}
{% macro get_incremental_replace_extracts_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_replace_extracts_sql', 'xmo')(arg_dict)) }}
{%- endmacro %}

{#- Delete+insert, preceded on a run with an extract window by the deletion of every row the
    model took from an extract date of the window (from_window_extracts: the model's meta
    `extract_date_columns`). A day delivered again replaces its raw rows, and a key only its
    old delivery held (a survey response, a ticket version, a device-day) is in none of the
    run's rows: delete+insert alone would keep it until a full refresh. The run's rows are
    computed before (the materialization's temporary table), so the model can still read its
    own rows of the window to find the keys to choose again. On a daily run (a new date) the
    deletion finds nothing, and DuckDB knows it from the table's statistics without a scan. -#}
{% macro default__get_incremental_replace_extracts_sql(arg_dict) -%}
    {%- if extract_window() -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ from_window_extracts() }};
    {% endif -%}
    {{ get_incremental_delete_insert_sql(arg_dict) }}
{%- endmacro %}

{#- Spark: the same rows as DuckDB's, by replacing whole partitions of the model's
    `partition_by` date (insert overwrite in dynamic mode replaces the partitions its rows fall
    in and leaves the others):
    1. the run's rows are written to a scratch table (dbt-spark hands them over as a view of the
       model's query, which reads the model's own table: it must be computed before any change);
    2. the partitions the run changes: those of its rows, of the rows it replaces (same key) and
       of the rows taken from the window's extracts;
    3. the rows of those partitions that stay (neither replaced nor from the window) join the
       run's rows in the scratch table;
    4. insert overwrite replaces those partitions with the scratch table's, and a partition left
       without rows is dropped.
    The main statement drops the scratch table. A daily run rewrites the day's partition and
    those its new versions supersede rows in, not the table. -#}
{% macro spark__get_incremental_replace_extracts_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set keys = arg_dict['unique_key'] -%}
    {%- set keys = [keys] if keys is string else keys -%}
    {%- set partition = config.get('partition_by') -%}
    {%- if not (keys and partition is string) -%}
        {{ exceptions.raise_compiler_error(
            'replace_extracts on Spark needs a unique_key and one partition_by column: ' ~ target) }}
    {%- endif -%}
    {%- if partition not in spark_partition_columns(target) -%}
        {{ exceptions.raise_compiler_error(
            target ~ ' was built before it was partitioned by ' ~ partition ~ ': rebuild it once '
            ~ 'with `dbt build --full-refresh --select ' ~ this.identifier ~ '`') }}
    {%- endif -%}
    {%- set scratch = target.incorporate(path={'identifier': target.identifier ~ '__dbt_rows'}) -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='name') | list -%}
    {%- set same_key -%}
        {% for key in keys -%}
        kept.{{ key }} = run.{{ key }}{{ ' and ' if not loop.last }}
        {%- endfor %}
    {%- endset -%}
    {%- set window = extract_window() -%}

    {%- do run_statement('drop table if exists ' ~ scratch) -%}
    {%- do run_statement(
        'create table ' ~ scratch ~ ' using parquet as select ' ~ columns | join(', ')
        ~ ' from ' ~ arg_dict['temp_relation']
    ) -%}

    {%- set changed_query -%}
        select cast({{ partition }} as string) from {{ scratch }}
        union
        select cast(kept.{{ partition }} as string)
        from {{ target }} as kept
        left semi join {{ scratch }} as run
            on {{ same_key }}
        {%- if window %}
        union
        select cast({{ partition }} as string) from {{ target }}
        where {{ from_window_extracts() }}
        {%- endif %}
    {%- endset -%}
    {%- set changed = run_query(changed_query).columns[0].values() | map('string') | list -%}
    {%- if 'None' in changed -%}
        {#- A NULL partition matches no `in` list and cannot be dropped by value. -#}
        {{ exceptions.raise_compiler_error(
            target ~ ': a row without ' ~ partition ~ ' (its partition column) cannot be placed') }}
    {%- endif -%}

    {%- if changed -%}
        {%- set in_changed -%}
            {{ partition }} in ('{{ changed | join("', '") }}')
        {%- endset -%}
        {%- set staying -%}
            insert into {{ scratch }}
            select {% for column in columns %}kept.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
            from (
                select * from {{ target }}
                where {{ in_changed }}
                {%- if window %}
                    and not coalesce({{ from_window_extracts() }}, false)
                {%- endif %}
            ) as kept
            left anti join {{ scratch }} as run
                on {{ same_key }}
        {%- endset -%}
        {%- do run_statement(staying) -%}
        {%- set written = run_query(
            'select distinct cast(' ~ partition ~ ' as string) from ' ~ scratch
        ).columns[0].values() | map('string') | list -%}
        {%- do run_statement('set spark.sql.sources.partitionOverwriteMode = dynamic') -%}
        {%- do run_statement(
            'insert overwrite table ' ~ target ~ ' partition (' ~ partition ~ ') select '
            ~ columns | join(', ') ~ ' from ' ~ scratch
        ) -%}
        {%- for emptied in changed if emptied not in written -%}
            {%- do run_statement(
                'alter table ' ~ target ~ ' drop if exists partition ('
                ~ partition ~ " = '" ~ emptied ~ "')"
            ) -%}
        {%- endfor -%}
        {%- do log(
            this.identifier ~ ': replaced ' ~ changed | length ~ ' partition(s) of '
            ~ partition ~ ', ' ~ (changed | length - written | length) ~ ' left empty', info=false
        ) -%}
    {%- endif %}
    drop table if exists {{ scratch }}
{%- endmacro %}

{#- A Spark table's partition columns: `describe` lists them after its columns, under
    "# Partition Information" and a "# col_name" header. -#}
{% macro spark_partition_columns(relation) -%}
    {%- set names = run_query('describe table ' ~ relation).columns[0].values() | list -%}
    {%- set found = [] -%}
    {%- if '# Partition Information' in names -%}
        {%- for name in names[names.index('# Partition Information') + 2:] -%}
            {%- if name and not name.startswith('#') -%}
                {%- do found.append(name | lower) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{%- endmacro %}

{#- On Spark, the date column whose partitions a run of the model replaces (see above); dbt's
    default (none) elsewhere. -#}
{% macro replaced_partitions(column) -%}
    {{ return(adapter.dispatch('replaced_partitions', 'xmo')(column)) }}
{%- endmacro %}

{% macro default__replaced_partitions(column) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__replaced_partitions(column) -%}
    {{ return(column) }}
{%- endmacro %}

{#- dbt-spark's incremental materialization validates the strategy against its own list and
    builds the SQL in a macro that knows only those: both are overridden here (the root
    project's macros take precedence over an adapter's), and hand every other strategy to
    dbt-spark's own (an adapter's macros are reached through the `dbt` namespace). dbt-spark sets the dynamic partition overwrite only for insert_overwrite:
    replace_extracts sets it itself. -#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- if raw_strategy in ('replace_extracts', 'replace_periods') -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{%- endmacro %}

{% macro dbt_spark_get_incremental_sql(
    strategy, source, target, existing, unique_key, incremental_predicates
) -%}
    {%- if strategy == 'replace_extracts' -%}
        {{ get_incremental_replace_extracts_sql({
            'temp_relation': source,
            'target_relation': target,
            'unique_key': unique_key,
        }) }}
    {%- elif strategy == 'replace_periods' -%}
        {{ get_incremental_replace_periods_sql({
            'temp_relation': source,
            'target_relation': target,
        }) }}
    {%- else -%}
        {{ dbt.dbt_spark_get_incremental_sql(
            strategy, source, target, existing, unique_key, incremental_predicates) }}
    {%- endif -%}
{%- endmacro %}
