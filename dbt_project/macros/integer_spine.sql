{#- The integers 0 .. 10^digits - 1, one row each, as `number`: a portable spine (no
    generate_series, no dbt_utils) for stepping through billing periods. -#}
{% macro integer_spine(digits=3) -%}
    {%- set places = range(digits) -%}
    select
        {% for place in places -%}
        place_{{ place }}.digit * {{ 10 ** place }}{{ " + " if not loop.last }}
        {%- endfor %} as number
    from
        {% for place in places -%}
        (
            select 0 as digit union all select 1 union all select 2 union all select 3
            union all select 4 union all select 5 union all select 6 union all select 7
            union all select 8 union all select 9
        ) as place_{{ place }}{{ "\n        cross join " if not loop.last }}
        {%- endfor %}
{%- endmacro %}
