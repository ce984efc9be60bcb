{#- DESIGN §4 metric formulas, written once and used by every experience mart. -#}

{#- Happiness score: 100 x (responses rated 9-10 minus responses rated 0-6) / all responses.
    NULL below min_responses: too few answers are noisy and identifying. -#}
{% macro happiness_score(happiness, responses) -%}
    case
        when {{ responses }} >= {{ var('min_responses') }}
            then cast(100 * (
                sum(case when {{ happiness }} >= 9 then 1 else 0 end)
                - sum(case when {{ happiness }} <= 6 then 1 else 0 end)
            ) as double) / {{ responses }}
    end
{%- endmacro %}

{#- A low-sample mask for any aggregate: the value only when the group has enough responses. -#}
{% macro when_enough_responses(responses, expression) -%}
    case when {{ responses }} >= {{ var('min_responses') }} then {{ expression }} end
{%- endmacro %}
