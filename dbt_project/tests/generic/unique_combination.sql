{#- The combination of `columns` is unique in the model (a composite key). Written here because
    dbt Hub packages (dbt_utils.unique_combination_of_columns) cannot be installed. -#}
{% test unique_combination(model, columns) %}
select
    {{ columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
