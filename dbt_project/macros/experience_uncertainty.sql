{#- How sure a score is: the 95 % intervals and change tests of docs/metrics.md ("Signal or
    noise"), chosen by what quality/uncertainty.py measured (issue 35). Every formula works from
    counts and sums, so weeks pool into any reference window by adding them up, and the same
    arithmetic runs on DuckDB and Spark. -#}

{#- The normal quantile of a two-sided 95 % interval. -#}
{% macro z_95() -%}
    1.96
{%- endmacro %}

{#- What a group of survey answers contributes to its score, its lost time and their errors.
    The sums of log(1 + minutes) feed the lost-time change test (lost_time_log_change). -#}
{% macro experience_counts(happiness, lost_time_minutes) -%}
    count(*) as responses,
    sum(case when {{ happiness }} >= 9 then 1 else 0 end) as promoters,
    sum(case when {{ happiness }} <= 6 then 1 else 0 end) as detractors,
    count({{ lost_time_minutes }}) as lost_time_responses,
    sum(cast({{ lost_time_minutes }} as bigint)) as lost_time_sum,
    sum(cast({{ lost_time_minutes }} as bigint) * cast({{ lost_time_minutes }} as bigint))
        as lost_time_sum_of_squares,
    sum(ln(1 + cast({{ lost_time_minutes }} as double))) as lost_time_log_sum,
    sum(ln(1 + cast({{ lost_time_minutes }} as double)) * ln(1 + cast({{ lost_time_minutes }} as double)))
        as lost_time_log_sum_of_squares
{%- endmacro %}

{#- The adjusted-Wald centre of the happiness score, in points: three answers more, three
    quarters of a promoter and three quarters of a detractor (Rocks 2016; Lewis & Sauro),
    100 * (p~ - d~) with p~ = (promoters + 0.75) / (n + 3), d~ = (detractors + 0.75) / (n + 3).
    Only the interval and the test use it; the published score stays 100 * (p - d). -#}
{% macro adjusted_happiness(promoters, detractors, responses) -%}
    (100 * cast({{ promoters }} - {{ detractors }} as double) / ({{ responses }} + 3))
{%- endmacro %}

{#- Its standard error in points: 100 * sqrt((p~ + d~ - (p~ - d~)^2) / (n + 3)). Never 0: even
    ten 10s out of ten leave room for other answers. -#}
{% macro adjusted_happiness_standard_error(promoters, detractors, responses) -%}
    {%- set n = '(' ~ responses ~ ' + 3)' -%}
    {%- set s = '(cast(' ~ promoters ~ ' - ' ~ detractors ~ ' as double) / ' ~ n ~ ')' -%}
    (100 * sqrt(((cast({{ promoters }} + {{ detractors }} as double) + 1.5) / {{ n }} - {{ s }} * {{ s }}) / {{ n }}))
{%- endmacro %}

{#- Standard error of the difference of two groups' adjusted centres (relations carrying
    experience_counts): sqrt(se_now^2 + se_reference^2). -#}
{% macro adjusted_happiness_difference_error(now, reference) -%}
    {%- set se_now = adjusted_happiness_standard_error(now ~ '.promoters', now ~ '.detractors', now ~ '.responses') -%}
    {%- set se_reference = adjusted_happiness_standard_error(reference ~ '.promoters', reference ~ '.detractors', reference ~ '.responses') -%}
    sqrt({{ se_now }} * {{ se_now }} + {{ se_reference }} * {{ se_reference }})
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

{#- One end of the 95 % adjusted-Wald interval of a happiness score from its counts, clipped to
    [-100, 100]. -#}
{% macro happiness_interval(promoters, detractors, responses, bound) -%}
    {%- set centre = adjusted_happiness(promoters, detractors, responses) -%}
    {%- set se = adjusted_happiness_standard_error(promoters, detractors, responses) -%}
    {%- if bound == 'low' -%}
    {{ at_least('(' ~ centre ~ ' - ' ~ z_95() ~ ' * ' ~ se ~ ')', -100) }}
    {%- else -%}
    {{ at_most('(' ~ centre ~ ' + ' ~ z_95() ~ ' * ' ~ se ~ ')', 100) }}
    {%- endif -%}
{%- endmacro %}

{#- One end of the 95 % interval of mean lost time, mean -/+ 1.96 s / sqrt(m) (the low end
    floored at 0: lost time is never negative), published only from
    min_lost_time_answers_for_interval answers: below, no method measured in the harness covers
    the heavy-tailed mean 90 % of the time, so the interval is NULL rather than a promise it
    does not keep. -#}
{% macro lost_time_interval(mean, lost_time_responses, lost_time_sum, lost_time_sum_of_squares, bound) -%}
    {%- set se = lost_time_standard_error(lost_time_responses, lost_time_sum, lost_time_sum_of_squares) -%}
    case when {{ lost_time_responses }} >= {{ var('min_lost_time_answers_for_interval') }} then
    {%- if bound == 'low' %}
        {{ at_least('(' ~ mean ~ ' - ' ~ z_95() ~ ' * ' ~ se ~ ')', 0) }}
    {%- else %}
        ({{ mean }} + {{ z_95() }} * {{ se }})
    {%- endif %}
    end
{%- endmacro %}

{#- The four interval columns of an experience mart, from a group's counts (experience_counts)
    and its published (low-sample masked) score and mean: NULL wherever those are NULL. -#}
{% macro experience_intervals(relation, score, mean) -%}
    {%- set c = relation ~ '.promoters' -%}
    {%- set b = relation ~ '.detractors' -%}
    {%- set n = relation ~ '.responses' -%}
    {%- set m = relation ~ '.lost_time_responses' -%}
    {%- set sum = relation ~ '.lost_time_sum' -%}
    {%- set squares = relation ~ '.lost_time_sum_of_squares' -%}
    cast(case when {{ score }} is not null then {{ happiness_interval(c, b, n, 'low') }} end as double) as happiness_ci_low,
    cast(case when {{ score }} is not null then {{ happiness_interval(c, b, n, 'high') }} end as double) as happiness_ci_high,
    cast(case when {{ mean }} is not null then {{ lost_time_interval(mean, m, sum, squares, 'low') }} end as double) as lost_time_ci_low,
    cast(case when {{ mean }} is not null then {{ lost_time_interval(mean, m, sum, squares, 'high') }} end as double) as lost_time_ci_high
{%- endmacro %}

{#- Standard error of the difference of mean log(1 + minutes) between two groups (`now` and
    `reference`, relations carrying experience_counts), from the variance of both groups' answers
    pooled, as they would share it if nothing changed: sqrt(s^2 (1/m_now + 1/m_ref)). -#}
{% macro pooled_log_standard_error(now, reference) -%}
    {%- set m = '(' ~ now ~ '.lost_time_responses + ' ~ reference ~ '.lost_time_responses)' -%}
    {%- set total = '(' ~ now ~ '.lost_time_log_sum + ' ~ reference ~ '.lost_time_log_sum)' -%}
    {%- set squares = '(' ~ now ~ '.lost_time_log_sum_of_squares + ' ~ reference ~ '.lost_time_log_sum_of_squares)' -%}
    {#- Rounding leaves a few 1e-15 of spread where every answer is the same: that is none. -#}
    {%- set spread = '(' ~ squares ~ ' - ' ~ total ~ ' * ' ~ total ~ ' / ' ~ m ~ ')' %}
    sqrt(case when {{ spread }} <= 1e-12 * {{ squares }} then 0 else {{ spread }} / ({{ m }} - 1) end
        * (cast(1 as double) / {{ now }}.lost_time_responses + cast(1 as double) / {{ reference }}.lost_time_responses))
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
