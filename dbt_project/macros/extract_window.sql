{#- The extract dates a run processes, as [from, to], or none when it names none. Dagster hands
    the run's partition window over in the environment (XMO_EXTRACT_DATE_FROM, _TO), read only
    while dbt executes: a value dbt sees while parsing (a --vars, an env_var) is part of the
    parse state, so every new day forced a full re-parse of the project (~5 s a run). By hand,
    `dbt build --vars '{extract_date_from: ..., extract_date_to: ...}'` names a window too. -#}
{% macro extract_window() -%}
    {%- set date_from = var('extract_date_from', none) -%}
    {%- set date_to = var('extract_date_to', none) -%}
    {%- if execute and not (date_from and date_to) -%}
        {%- set date_from = env_var('XMO_EXTRACT_DATE_FROM', '') -%}
        {%- set date_to = env_var('XMO_EXTRACT_DATE_TO', '') -%}
    {%- endif -%}
    {{ return([date_from, date_to] if date_from and date_to else none) }}
{%- endmacro %}

{#- Which extract dates an incremental run processes: the run's window (extract_window), or
    without one (a bare `dbt build`) the extract dates newer than what the model already holds
    (its `watermark` column). -#}
{% macro extract_window_filter(column, watermark='extract_date') -%}
    {%- set window = extract_window() -%}
    {%- if window -%}
        {{ column }} between cast('{{ window[0] }}' as date) and cast('{{ window[1] }}' as date)
    {%- else -%}
        {{ column }} > (
            select coalesce(max({{ watermark }}), cast('1900-01-01' as date)) from {{ this }}
        )
    {%- endif -%}
{%- endmacro %}

{#- The rows that came from an extract date in the run's window (extract_window, which must
    name one): `columns` is the column holding a row's extract date, or a pair [first, last] for
    rows summed over several extract dates, which count when their span meets the window (a
    row without a first date, built before the column existed, spans its last date only).
    By default the model's own, from its meta `extract_date_columns`. -#}
{% macro from_window_extracts(columns=none) -%}
    {%- set columns = columns or config.meta_get('extract_date_columns') -%}
    {%- set window = extract_window() -%}
    {%- if not (columns and window) -%}
        {{ exceptions.raise_compiler_error(
            'from_window_extracts needs an extract window and the extract date columns '
            ~ '(meta extract_date_columns) of ' ~ this) }}
    {%- endif -%}
    {%- if columns is string -%}
        {{ columns }} between cast('{{ window[0] }}' as date) and cast('{{ window[1] }}' as date)
    {%- else -%}
        coalesce({{ columns[0] }}, {{ columns[1] }}) <= cast('{{ window[1] }}' as date)
        and {{ columns[1] }} >= cast('{{ window[0] }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- True when `relation` has a row meeting `condition` (one query, stopping at the first). Where
    the answer decides which SQL a model runs: a unit test, whose inputs are not the relation's
    rows, and parsing take the path that handles every case. -#}
{% macro any_row(relation, condition) -%}
    {%- if not execute or model.resource_type == 'unit_test' -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set found = run_query('select 1 from ' ~ relation ~ ' where ' ~ condition ~ ' limit 1') -%}
    {{ return(found.rows | length > 0) }}
{%- endmacro %}

{#- True when the model already holds rows of the run's extract window, i.e. the run delivers
    again days it built before; false on a run without a window and on a full build. One
    query of the model, for a model that takes a costlier path only then. -#}
{% macro holds_window_extracts() -%}
    {%- if not (execute and is_incremental() and extract_window()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query(
        'select 1 from ' ~ this ~ ' where ' ~ from_window_extracts() ~ ' limit 1'
    ) -%}
    {{ return(found.rows | length > 0) }}
{%- endmacro %}

{#- Every version (across all extracts) of the records whose key appears in the run's extract
    dates; on a full build, every version. The caller keeps the latest per key, so re-running
    an old date never replaces a newer version. `keys` is a column or a list of columns.
    With a window, the keys whose version the model took from the window's extracts are
    touched too: a day delivered again may have lost that version, and the key is then chosen
    again among the versions left, or leaves (the replace_extracts strategy deletes the
    window's rows). On a daily run the window's date is new: the model's statistics show it
    holds no row of it, and DuckDB drops that branch while planning (a daily run at 3.7 M
    device-days took as long as before). `this_keys` names the keys as the model does, where
    it renames them.
    Callers pass a relation (a source, or a staging view over one), not a CTE over it: DuckDB
    materializes a CTE that is read twice, which copied every raw column of 36 M device rows for
    one day's run. `extract_date` names the relation's extract date column. -#}
{% macro versions_of_touched_keys(relation, keys, this_keys=none, extract_date='_extract_date') -%}
    {%- set keys = [keys] if keys is string else keys -%}
    {%- set this_keys = keys if this_keys is none else this_keys -%}
    {%- set this_keys = [this_keys] if this_keys is string else this_keys -%}
    {%- if is_incremental() -%}
    select versions.*
    from {{ relation }} as versions
    inner join (
        select distinct {{ keys | join(', ') }}
        from {{ relation }}
        where {{ extract_window_filter(extract_date) }}
        {%- if extract_window() %}
        union
        select
            {%- for key in keys %}
            {{ this_keys[loop.index0] }} as {{ key }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ this }}
        where {{ from_window_extracts() }}
        {%- endif %}
    ) as touched
        on {% for key in keys -%}
        versions.{{ key }} = touched.{{ key }}{{ ' and ' if not loop.last }}
        {%- endfor %}
    {%- else -%}
    select * from {{ relation }}
    {%- endif %}
{%- endmacro %}

{#- The latest version of each key among versions_of_touched_keys: every version except those a
    newer one supersedes (`newest_first` orders a key's versions). The ranking reads only the
    key and version columns, and the superseded versions (few: a key changes in few extracts)
    are then removed from the versions by an anti-join. Ranking the versions whole carried every
    column through the sort: 50 s for a year of device-days instead of 10. A version is one raw
    row: its key, extract date, file and line (`version`: their names in `relation`, the raw
    names by default). `this_keys`: as in versions_of_touched_keys. -#}
{% macro latest_versions(
    relation,
    keys,
    newest_first,
    this_keys=none,
    version=['_extract_date', '_source_file', '_source_line']
) -%}
    {%- set keys = [keys] if keys is string else keys -%}
    {%- set version_columns = keys + version -%}
    select versions.*
    from ({{ versions_of_touched_keys(relation, keys, this_keys, version[0]) }}) as versions
    left join (
        select {{ version_columns | join(', ') }}
        from (
            select
                {{ version_columns | join(', ') }},
                row_number() over (
                    partition by {{ keys | join(', ') }}
                    order by {{ newest_first }}
                ) as version_rank
            from ({{ versions_of_touched_keys(relation, keys, this_keys, version[0]) }}) as all_versions
        ) as ranked
        where version_rank > 1
    ) as superseded
        on {% for column in version_columns -%}
        versions.{{ column }} = superseded.{{ column }}{{ ' and ' if not loop.last }}
        {%- endfor %}
    where superseded.{{ keys[0] }} is null
{%- endmacro %}
