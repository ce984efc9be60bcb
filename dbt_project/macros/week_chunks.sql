{#- A full build of a model that sums a long daily history by week, taken a few weeks at a time:
    the bounds of each chunk, as [first day, day after] strings (Mondays; the first chunk opens
    downwards, the last upwards), from the date range `column` of `relation` covers. One
    grouping of a year of device-days (5 M groups of 20 sums) outgrows DuckDB's memory limit and
    spills: 42 s at the benchmark's L against 17 s in four-week chunks, which a `union all` runs
    one after another. An incremental run (a few touched weeks) and a relation without rows
    get a single chunk, [none, none]; so does Spark, which spreads a grouping over its cluster.
    `--vars '{week_chunk_weeks: 1}'` sets the chunk size (the incremental comparison test builds
    its four weeks in four chunks). -#}
{% macro week_chunks(relation, column) -%}
    {%- set weeks_per_chunk = var('week_chunk_weeks', 4) | int -%}
    {%- if weeks_per_chunk < 1 -%}
        {{ exceptions.raise_compiler_error(
            'week_chunk_weeks must be a whole number of weeks, 1 or more; got '
            ~ var('week_chunk_weeks')) }}
    {%- endif -%}
    {{ return(adapter.dispatch('week_chunks', 'xmo')(relation, column, weeks_per_chunk)) }}
{%- endmacro %}

{% macro default__week_chunks(relation, column, weeks_per_chunk) -%}
    {#- Not built yet (`dbt compile` or `docs generate` on a new warehouse): one chunk. -#}
    {%- if not execute or is_incremental() or load_relation(relation) is none -%}
        {{ return([[none, none]]) }}
    {%- endif -%}
    {%- set bounds = run_query(
        'select cast(min(' ~ column ~ ') as varchar), cast(max(' ~ column ~ ') as varchar) from '
        ~ relation
    ).rows[0] -%}
    {%- if bounds[0] is none -%}
        {{ return([[none, none]]) }}
    {%- endif -%}
    {%- set datetime = modules.datetime -%}
    {%- set first = datetime.datetime.strptime(bounds[0], '%Y-%m-%d').date() -%}
    {%- set last = datetime.datetime.strptime(bounds[1], '%Y-%m-%d').date() -%}
    {%- set step = datetime.timedelta(days=7 * weeks_per_chunk) -%}
    {%- set monday = first - datetime.timedelta(days=first.weekday()) -%}
    {%- set starts = [] -%}
    {%- for n in range(((last - monday).days // step.days) + 1) -%}
        {%- do starts.append(monday + step * n) -%}
    {%- endfor -%}
    {%- set chunks = [] -%}
    {%- for start in starts -%}
        {%- do chunks.append([
            none if loop.first else start | string,
            none if loop.last else (start + step) | string,
        ]) -%}
    {%- endfor -%}
    {{ return(chunks) }}
{%- endmacro %}

{% macro spark__week_chunks(relation, column, weeks_per_chunk) -%}
    {{ return([[none, none]]) }}
{%- endmacro %}

{#- The condition keeping `column` inside a chunk of week_chunks (true for [none, none]). -#}
{% macro in_chunk(column, chunk) -%}
    {%- if chunk[0] is none and chunk[1] is none -%}
        true
    {%- else -%}
        {%- if chunk[0] is not none -%}
        {{ column }} >= cast('{{ chunk[0] }}' as date)
        {%- endif -%}
        {{ ' and ' if chunk[0] is not none and chunk[1] is not none }}
        {%- if chunk[1] is not none -%}
        {{ column }} < cast('{{ chunk[1] }}' as date)
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
