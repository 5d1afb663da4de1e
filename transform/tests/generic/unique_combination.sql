{#- The columns together identify a row: none of them NULL, no two rows alike (dbt_utils'
    unique_combination_of_columns, which needs dbt Hub, plus not-null in the same scan: on a
    view over JSON arrays each test reads them again). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{%- for column in columns %} or {{ column }} is null{% endfor %}
{% endtest %}
