{#- Which extract dates an incremental run processes. Dagster passes the run's partition
    window as vars (extract_date_from, extract_date_to); a bare `dbt build` takes the extract
    dates newer than what the model already holds. -#}
{% macro extract_window_filter(column) -%}
    {%- set date_from = var('extract_date_from', none) -%}
    {%- set date_to = var('extract_date_to', none) -%}
    {%- if date_from and date_to -%}
        {{ column }} between cast('{{ date_from }}' as date) and cast('{{ date_to }}' as date)
    {%- else -%}
        {{ column }} > (
            select coalesce(max(extract_date), cast('1900-01-01' as date)) from {{ this }}
        )
    {%- endif -%}
{%- endmacro %}

{#- Every version (across all extracts) of the records whose key appears in the run's extract
    dates; on a full build, every version. The caller keeps the latest per key, so re-running
    an old date never replaces a newer version. -#}
{% macro versions_of_touched_keys(relation, key) -%}
    select *
    from {{ relation }}
    {% if is_incremental() -%}
    where {{ key }} in (
        select {{ key }} from {{ relation }} where {{ extract_window_filter('_extract_date') }}
    )
    {%- endif %}
{%- endmacro %}
