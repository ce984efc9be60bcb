{#- Digital experience (DEX) scoring, documented in docs/metrics.md.
    Each component maps its raw value onto 0-100 piecewise-linearly between a "good" threshold
    (100) and a "poor" threshold (0), as ServiceNow DEX and Nexthink band their metrics; the
    formula works for lower-is-better (good < poor) and higher-is-better (good > poor) alike. -#}
{% macro band_score(value, good, poor) -%}
    case
        when ({{ value }}) is null then null
        else greatest(0, least(100,
            100 * cast(({{ poor }}) - ({{ value }}) as double) / (({{ poor }}) - ({{ good }}))
        ))
    end
{%- endmacro %}

{#- Weights of the components in the device-day score; a component that does not apply
    (battery on a desktop) is left out and the others re-weighted. -#}
{% macro dex_weights() -%}
    {{ return({
        'boot_score': 0.15,
        'logon_score': 0.15,
        'app_stability_score': 0.20,
        'system_stability_score': 0.15,
        'cpu_score': 0.10,
        'memory_score': 0.10,
        'disk_score': 0.075,
        'battery_score': 0.075,
    }) }}
{%- endmacro %}

{#- The least share of the full weight a device-day's components must carry for a score: a
    source that measures less (Intune has no CPU, memory, disk or network; a query may lack
    battery) is scored over what it has, re-weighted, but two startup times alone (0.30) are
    not a device's experience. docs/metrics.md gives an example. -#}
{% macro dex_minimum_weight() -%}
    {{ return(0.5) }}
{%- endmacro %}

{% macro dex_present_weight() -%}
    {%- set weights = dex_weights() -%}
    (
        {% for component, weight in weights.items() -%}
        case when {{ component }} is not null then {{ weight }} else 0 end{% if not loop.last %} + {% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{#- The weighted mean of the components present, re-weighted to their total weight; NULL when
    they carry less than dex_minimum_weight (dex_score_missing_reason says so). Rounded to 4
    decimals: the weights do not sum to exactly 1 in floating point, and no reader needs a
    device score finer than that. -#}
{% macro dex_score() -%}
    {%- set weights = dex_weights() -%}
    case
        when {{ dex_present_weight() }} >= {{ dex_minimum_weight() }} - 0.0001 then round((
        {% for component, weight in weights.items() -%}
        coalesce({{ component }} * {{ weight }}, 0){% if not loop.last %} + {% endif %}
        {%- endfor %}
    ) / {{ dex_present_weight() }}, 4)
    end
{%- endmacro %}

{#- The components a device-day's score is computed over, by name without `_score`, in the
    weights' order, comma-separated ('' when none). -#}
{% macro dex_components() -%}
    concat_ws(',',
        {% for component in dex_weights() -%}
        case when {{ component }} is not null then '{{ component | replace('_score', '') }}' end{{ ',' if not loop.last }}
        {% endfor -%}
    )
{%- endmacro %}

{% macro dex_score_missing_reason() -%}
    case
        when {{ dex_present_weight() }} = 0 then 'no component measured'
        when {{ dex_present_weight() }} < {{ dex_minimum_weight() }} - 0.0001 then
            {{ dbt.concat(["'too few components: '", dex_components(), "' (a score needs half the weight)'"]) }}
    end
{%- endmacro %}

{#- The components and the score that the device marts average, in their column order. -#}
{% macro device_score_columns() -%}
    {{ return(['dex_score'] + dex_weights().keys() | list) }}
{%- endmacro %}

{#- DEX bands of an employee's month on their primary device (issue 19): the thresholds live
    here and nowhere else; docs/metrics.md explains them. -#}
{% macro dex_band_thresholds() -%}
    {{ return({'fair': 50, 'good': 70}) }}
{%- endmacro %}

{% macro dex_band(score) -%}
    {%- set at = dex_band_thresholds() -%}
    case
        when {{ score }} is null then null
        when {{ score }} < {{ at['fair'] }} then 'poor'
        when {{ score }} < {{ at['good'] }} then 'fair'
        else 'good'
    end
{%- endmacro %}

{#- True where a device-day reports any of Intune's 30-day totals (`prefix`: a table alias and a
    dot). -#}
{% macro thirty_day_totals_reported(prefix='') -%}
    ({{ prefix }}app_crashes_30d is not null or {{ prefix }}app_freezes_30d is not null
        or {{ prefix }}system_crashes_30d is not null)
{%- endmacro %}
