{#- A number as text without trailing zeros (12.5, 40, 0), for the sentences that explain a
    number; never for a value that is computed on. It goes through the 9-decimal type first, so
    there is always a decimal point for the trailing zeros to stop at. -#}
{% macro decimal_text(expression) -%}
    rtrim(rtrim(cast(cast({{ expression }} as {{ decimal_type() }}) as {{ dbt.type_string() }}), '0'), '.')
{%- endmacro %}

{#- An amount as text with its currency's minor units (1234.5 USD -> 1234.50, JPY -> 1235). -#}
{% macro money_text(value, minor_units) -%}
    case {{ minor_units }}
        when 0 then cast(cast({{ value }} as numeric(38, 0)) as {{ dbt.type_string() }})
        when 3 then cast(cast({{ value }} as numeric(38, 3)) as {{ dbt.type_string() }})
        when 4 then cast(cast({{ value }} as numeric(38, 4)) as {{ dbt.type_string() }})
        else cast(cast({{ value }} as numeric(38, 2)) as {{ dbt.type_string() }})
    end
{%- endmacro %}
