{#- A number as text without trailing zeros (12.5, 40, 0), for the sentences that explain a
    number; never for a value that is computed on. It goes through the 9-decimal type first, so
    there is always a decimal point for the trailing zeros to stop at. -#}
{% macro decimal_text(expression) -%}
    rtrim(rtrim(cast(cast({{ expression }} as {{ decimal_type() }}) as {{ dbt.type_string() }}), '0'), '.')
{%- endmacro %}
