{#- Salted SHA-256 of a person identifier. The salt comes from the `pseudonym_salt` var or the
    XMO_PSEUDONYM_SALT environment variable, so the same employee gets the same key across runs
    and nobody without the salt can reverse it. Both engines return the lowercase hex digest, so
    a key is the same on DuckDB and on Spark. -#}
{% macro pseudonymize(column) -%}
    case
        when {{ column }} is null then null
        else {{ sha256_hex("'" ~ pseudonym_salt() ~ "' || '|' || trim(" ~ column ~ ")") }}
    end
{%- endmacro %}

{% macro pseudonym_salt() -%}
    {{ return(var("pseudonym_salt", env_var("XMO_PSEUDONYM_SALT", "xmo-demo-salt"))) }}
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
