{#- Exact ratios and readable amounts for fct_usage_alerts (a share of a commitment, days of
    credit left, amounts in an alert's sentence; quantities go through decimal_text). -#}

{#- floor(numerator / denominator) to `digits` decimal places (a constant, 0 to 9), for a
    non-negative numerator and a positive denominator, as an exact decimal. Rounding down keeps a
    share just under a threshold from reading as the threshold (0.79999 is 0.7999, not 0.8000). -#}
{% macro floor_ratio(numerator, denominator, digits=0) -%}
    {{ return(adapter.dispatch('floor_ratio')(numerator, denominator, digits)) }}
{%- endmacro %}

{#- PostgreSQL and others: numeric division is exact to well past the digits kept. -#}
{% macro default__floor_ratio(numerator, denominator, digits=0) -%}
    cast(
        floor(cast({{ numerator }} as {{ decimal_type() }}) * {{ 10 ** digits }} / {{ denominator }})
        / {{ 10 ** digits }}
        as {{ decimal_type() }}
    )
{%- endmacro %}

{#- DuckDB divides a DECIMAL into a DOUBLE, so the division is done on integers: both sides in
    units of 10^-9 (the scale of decimal_type), the numerator scaled up by 10^digits first. -#}
{% macro duckdb__floor_ratio(numerator, denominator, digits=0) -%}
    {%- set unit = '1' if digits == 0 else '0.' ~ '0' * (digits - 1) ~ '1' -%}
    cast(
        cast(
            (cast(cast({{ numerator }} as {{ decimal_type() }}) * 1000000000 as hugeint) * {{ 10 ** digits }})
            // cast(cast({{ denominator }} as {{ decimal_type() }}) * 1000000000 as hugeint)
            as {{ decimal_type() }}
        ) * {{ unit }}
        as {{ decimal_type() }}
    )
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
