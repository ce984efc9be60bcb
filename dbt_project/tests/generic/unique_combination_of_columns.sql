{#- A grain of several columns is unique. Grouping by the columns themselves: building one string
    key per row (`a || '|' || b`) cost ten seconds a run on a year of device-days. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
