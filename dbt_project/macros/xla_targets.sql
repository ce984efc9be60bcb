{#- XLA targets relative to the baseline (docs/metrics.md, "Baselines and the XLA scorecard").
    An XMO sets targets once it knows the baseline: a row of the xla_targets seed with
    relative_to_baseline = true reads `target` as the improvement on the service's baseline, a
    fraction of its size (0.10: "baseline improved by 10 %"), and `amber_tolerance` as a fraction
    of it too. Absolute rows keep their values. -#}

{#- Whether the seed has the relative_to_baseline column: an organisation's own xla_targets.csv
    written before it existed still loads, every row absolute. -#}
{% macro xla_targets_relative_column(relation) -%}
    {#- A namespace: a plain `set` inside the loop would not outlive it (Jinja scoping). -#}
    {%- set found = namespace(column=false) -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- if column.name | lower == 'relative_to_baseline' -%}
                {%- set found.column = true -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if found.column -%}
        coalesce(cast(relative_to_baseline as boolean), false)
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}

{#- The target in the indicator's unit: baseline + (1 if higher is better else -1) * fraction *
    |baseline| for a relative row (NULL without a baseline), the target itself otherwise. -#}
{% macro absolute_target(target, relative, higher_is_better, baseline) -%}
    case
        when {{ relative }} then {{ baseline }}
            + case when {{ higher_is_better }} then 1 else -1 end * {{ target }} * abs({{ baseline }})
        else {{ target }}
    end
{%- endmacro %}

{% macro absolute_tolerance(tolerance, relative, baseline) -%}
    case when {{ relative }} then {{ tolerance }} * abs({{ baseline }}) else {{ tolerance }} end
{%- endmacro %}

{#- How a reader should read the target: "absolute", or "baseline improved by 10 %". -#}
{% macro target_rule(target, relative) -%}
    case
        when {{ relative }}
            then concat('baseline improved by ', cast(round(100 * {{ target }}, 1) as {{ dbt.type_string() }}), ' %')
        else 'absolute'
    end
{%- endmacro %}
