{#- Salted SHA-256 of a person identifier. The salt comes from the `pseudonym_salt` var or the
    XMO_PSEUDONYM_SALT environment variable, so the same employee gets the same key across runs
    and nobody without the salt can reverse it. -#}
{% macro pseudonymize(column) -%}
    {{ return(adapter.dispatch('pseudonymize', 'xmo')(column)) }}
{%- endmacro %}

{% macro default__pseudonymize(column) -%}
    case
        when {{ column }} is null then null
        else sha256('{{ var("pseudonym_salt", env_var("XMO_PSEUDONYM_SALT", "xmo-demo-salt")) }}' || '|' || trim({{ column }}))
    end
{%- endmacro %}
