{#- Which extract dates an incremental run processes. Dagster passes the run's partition
    window as vars (extract_date_from, extract_date_to); a bare `dbt build` takes the extract
    dates newer than what the model already holds (its `watermark` column). -#}
{% macro extract_window_filter(column, watermark='extract_date') -%}
    {%- set date_from = var('extract_date_from', none) -%}
    {%- set date_to = var('extract_date_to', none) -%}
    {%- if date_from and date_to -%}
        {{ column }} between cast('{{ date_from }}' as date) and cast('{{ date_to }}' as date)
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
