{#- A person's id as a keyed SHA-256: the hex digest of the installation's secret key, a `|` and
    the trimmed id. Employee ids are enumerable, so only the key protects a pseudonym; it is
    created per installation (ingestion/pseudonym_key.py) and reaches the engine at connection
    time, never through this SQL: compiled models, manifests and run results name where the
    key is, not the key. Both engines give the same key for the same id (docs/metrics.md). -#}
{% macro pseudonymize(column) -%}
    case
        when {{ column }} is null then null
        else {{ sha256_hex(dbt.concat([pseudonym_key(), "'|'", "trim(" ~ column ~ ")"])) }}
    end
{%- endmacro %}

{#- The key, as the engine holds it for this session; a build without one fails, saying so. -#}
{% macro pseudonym_key() -%}
    {{ return(adapter.dispatch('pseudonym_key', 'xmo')()) }}
{%- endmacro %}

{#- DuckDB: a variable the dbt-duckdb plugin sets on each connection (orchestration/
    dbt_key_plugin.py). -#}
{% macro default__pseudonym_key() -%}
    coalesce(
        getvariable('xmo_pseudonym_key'),
        error('no pseudonym key: run dbt through xmo, which hands it the installation key')
    )
{%- endmacro %}

{#- Spark: a session setting from the profile, substituted when the statement is parsed. It is
    sent hex-encoded: Spark replaces a setting that looks like a secret ("secret", "token",
    "password" in its value) with "*********(redacted)" when it substitutes it, and hex cannot
    look like one. -#}
{% macro spark__pseudonym_key() -%}
    coalesce(
        decode(unhex(nullif('${spark.xmo.pseudonym.material}', '')), 'UTF-8'),
        raise_error('no pseudonym key: run dbt through xmo, which hands it the installation key')
    )
{%- endmacro %}

{% macro sha256_hex(expression) -%}
    {{ return(adapter.dispatch('sha256_hex', 'xmo')(expression)) }}
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}

{% macro spark__sha256_hex(expression) -%}
    sha2({{ expression }}, 256)
{%- endmacro %}
