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

{#- Every version (across all extracts) of the records whose key appears in the run's extract
    dates; on a full build, every version. The caller keeps the latest per key, so re-running
    an old date never replaces a newer version. `keys` is a column or a list of columns.
    Callers pass the source relation itself, not a CTE over it: DuckDB materializes a CTE that
    is read twice, which copied every raw column of 36 M device rows for one day's run. -#}
{% macro versions_of_touched_keys(relation, keys) -%}
    {%- set keys = [keys] if keys is string else keys -%}
    {%- if is_incremental() -%}
    select versions.*
    from {{ relation }} as versions
    inner join (
        select distinct {{ keys | join(', ') }}
        from {{ relation }}
        where {{ extract_window_filter('_extract_date') }}
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
    row: its key, extract date, file and line. -#}
{% macro latest_versions(relation, keys, newest_first) -%}
    {%- set keys = [keys] if keys is string else keys -%}
    {%- set version_columns = keys + ['_extract_date', '_source_file', '_source_line'] -%}
    select versions.*
    from ({{ versions_of_touched_keys(relation, keys) }}) as versions
    left join (
        select {{ version_columns | join(', ') }}
        from (
            select
                {{ version_columns | join(', ') }},
                row_number() over (
                    partition by {{ keys | join(', ') }}
                    order by {{ newest_first }}
                ) as version_rank
            from ({{ versions_of_touched_keys(relation, keys) }}) as all_versions
        ) as ranked
        where version_rank > 1
    ) as superseded
        on {% for column in version_columns -%}
        versions.{{ column }} = superseded.{{ column }}{{ ' and ' if not loop.last }}
        {%- endfor %}
    where superseded.{{ keys[0] }} is null
{%- endmacro %}
