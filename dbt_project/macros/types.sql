{#- Exact decimal types. Money and the quantities that feed money are never floating point. -#}
{% macro decimal_type(precision=38, scale=9) -%}
    numeric({{ precision }}, {{ scale }})
{%- endmacro %}
