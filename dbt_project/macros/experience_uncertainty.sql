{#- How sure a score is: the 95 % intervals and standard errors of issue 18 (docs/metrics.md).
    Every formula works from counts and sums, so weeks pool into any reference window by adding
    them up, and the same arithmetic runs on DuckDB and Spark. -#}

{#- The normal quantile of a two-sided 95 % interval. -#}
{% macro z_95() -%}
    1.96
{%- endmacro %}

{#- What a group of survey answers contributes to its score, its lost time and their errors. -#}
{% macro experience_counts(happiness, lost_time_minutes) -%}
    count(*) as responses,
    sum(case when {{ happiness }} >= 9 then 1 else 0 end) as promoters,
    sum(case when {{ happiness }} <= 6 then 1 else 0 end) as detractors,
    count({{ lost_time_minutes }}) as lost_time_responses,
    sum(cast({{ lost_time_minutes }} as bigint)) as lost_time_sum,
    sum(cast({{ lost_time_minutes }} as bigint) * cast({{ lost_time_minutes }} as bigint))
        as lost_time_sum_of_squares
{%- endmacro %}

{#- Wald standard error of the NPS-style score: with p = share rated 9-10, d = share rated 0-6,
    se = 100 * sqrt((p + d - (p - d)^2) / n). The floor at 0 only absorbs rounding below zero. -#}
{% macro happiness_standard_error(promoters, detractors, responses) -%}
    {%- set p = '(cast(' ~ promoters ~ ' as double) / ' ~ responses ~ ')' -%}
    {%- set d = '(cast(' ~ detractors ~ ' as double) / ' ~ responses ~ ')' -%}
    (100 * sqrt({{ at_least('(' ~ p ~ ' + ' ~ d ~ ' - (' ~ p ~ ' - ' ~ d ~ ') * (' ~ p ~ ' - ' ~ d ~ '))', 0) }} / {{ responses }}))
{%- endmacro %}

{#- Standard error of mean lost time, s / sqrt(m), with s the sample standard deviation of the m
    answers reporting lost time, from their sum and sum of squares; NULL below two answers. -#}
{% macro lost_time_standard_error(lost_time_responses, lost_time_sum, lost_time_sum_of_squares) -%}
    case
        when {{ lost_time_responses }} >= 2
            then sqrt({{ at_least(
                '((cast(' ~ lost_time_sum_of_squares ~ ' as double) - cast(' ~ lost_time_sum
                ~ ' as double) * ' ~ lost_time_sum ~ ' / ' ~ lost_time_responses ~ ') / ('
                ~ lost_time_responses ~ ' - 1))', 0) }} / {{ lost_time_responses }})
    end
{%- endmacro %}

{#- The larger of a value and a floor, NULL when the value is NULL (greatest() in DuckDB and
    Spark skips NULLs, which would turn a missing interval into the floor). -#}
{% macro at_least(expression, floor) -%}
    case when {{ expression }} < {{ floor }} then {{ floor }} else {{ expression }} end
{%- endmacro %}

{% macro at_most(expression, ceiling) -%}
    case when {{ expression }} > {{ ceiling }} then {{ ceiling }} else {{ expression }} end
{%- endmacro %}

{#- score -/+ 1.96 se, clipped to the score's range [-100, 100]. -#}
{% macro happiness_interval(score, standard_error, bound) -%}
    {%- if bound == 'low' -%}
    {{ at_least('(' ~ score ~ ' - ' ~ z_95() ~ ' * ' ~ standard_error ~ ')', -100) }}
    {%- else -%}
    {{ at_most('(' ~ score ~ ' + ' ~ z_95() ~ ' * ' ~ standard_error ~ ')', 100) }}
    {%- endif -%}
{%- endmacro %}

{#- mean -/+ 1.96 se; lost time is never negative, so the low end is floored at 0. -#}
{% macro lost_time_interval(mean, standard_error, bound) -%}
    {%- if bound == 'low' -%}
    {{ at_least('(' ~ mean ~ ' - ' ~ z_95() ~ ' * ' ~ standard_error ~ ')', 0) }}
    {%- else -%}
    ({{ mean }} + {{ z_95() }} * {{ standard_error }})
    {%- endif -%}
{%- endmacro %}

{#- The four interval columns of an experience mart, from a group's counts (experience_counts)
    and its published (low-sample masked) score and mean: NULL wherever those are NULL. -#}
{% macro experience_intervals(relation, score, mean) -%}
    {%- set se_happiness = happiness_standard_error(relation ~ '.promoters', relation ~ '.detractors', relation ~ '.responses') -%}
    {%- set se_lost_time = lost_time_standard_error(relation ~ '.lost_time_responses', relation ~ '.lost_time_sum', relation ~ '.lost_time_sum_of_squares') -%}
    cast({{ happiness_interval(score, se_happiness, 'low') }} as double) as happiness_ci_low,
    cast({{ happiness_interval(score, se_happiness, 'high') }} as double) as happiness_ci_high,
    cast({{ lost_time_interval(mean, se_lost_time, 'low') }} as double) as lost_time_ci_low,
    cast({{ lost_time_interval(mean, se_lost_time, 'high') }} as double) as lost_time_ci_high
{%- endmacro %}

{#- Two-sided normal p-value of a z statistic, 2 * (1 - Phi(|z|)) = erfc(|z| / sqrt 2), by the
    Chebyshev fit of Numerical Recipes (erfcc: relative error below 1.2e-7 everywhere, so even
    tiny p-values keep their order for Benjamini-Hochberg). Neither DuckDB nor Spark SQL has
    erf or a normal CDF. -#}
{% macro two_sided_normal_p_value(z) -%}
    {%- set x = '(abs(' ~ z ~ ') / sqrt(2.0))' -%}
    {%- set t = '(1.0 / (1.0 + 0.5 * ' ~ x ~ '))' -%}
    least(1.0, {{ t }} * exp(-{{ x }} * {{ x }} - 1.26551223 + {{ t }} * (1.00002368
        + {{ t }} * (0.37409196 + {{ t }} * (0.09678418 + {{ t }} * (-0.18628806
        + {{ t }} * (0.27886807 + {{ t }} * (-1.13520398 + {{ t }} * (1.48851587
        + {{ t }} * (-0.82215223 + {{ t }} * 0.17087277))))))))))
{%- endmacro %}
