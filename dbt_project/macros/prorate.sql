{#- value × part / whole, rounded half away from zero (half up for the positive amounts billed)
    to `digits` decimal places (0 to 9; a column or a number), as an exact decimal.

    The one place a charge is prorated and rounded (scenario-format.md, "Money and rounding":
    each invoice line rounded once, to the currency's minor unit). -#}
{% macro prorate(value, part, whole, digits) -%}
    {{ return(adapter.dispatch('prorate')(value, part, whole, digits)) }}
{%- endmacro %}

{#- PostgreSQL and others: numeric division is exact to well past the digits kept, and
    round(numeric, n) rounds half away from zero. -#}
{% macro default__prorate(value, part, whole, digits) -%}
    cast(round(cast({{ value }} as {{ decimal_type() }}) * {{ part }} / {{ whole }}, {{ digits }}) as {{ decimal_type() }})
{%- endmacro %}

{#- DuckDB divides a DECIMAL into a DOUBLE, so the division is done on integers: the value in
    units of 10^-9 (the scale of decimal_type), divided by whole × 10^(9 - digits) with half of
    the divisor added first, then scaled back by multiplying with an exact decimal. -#}
{% macro duckdb__prorate(value, part, whole, digits) -%}
    {%- set scaled -%}
        cast(cast({{ value }} as {{ decimal_type() }}) * ({{ part }}) * 1000000000 as hugeint)
    {%- endset -%}
    {%- set divisor -%}
        (cast({{ whole }} as hugeint) * cast(10 ** (9 - ({{ digits }})) as hugeint))
    {%- endset -%}
    cast(
        cast(sign({{ scaled }}) * ((abs({{ scaled }}) * 2 + {{ divisor }}) // (2 * {{ divisor }})) as {{ decimal_type() }})
        * case {{ digits }}
            when 0 then 1.000000000 when 1 then 0.100000000 when 2 then 0.010000000
            when 3 then 0.001000000 when 4 then 0.000100000 when 5 then 0.000010000
            when 6 then 0.000001000 when 7 then 0.000000100 when 8 then 0.000000010
            when 9 then 0.000000001
        end
        as {{ decimal_type() }}
    )
{%- endmacro %}

{#- A full-precision amount (a product of quantities and prices) rounded once, half away from
    zero, to `digits` decimal places (a column: the currency's minor units). -#}
{% macro round_money(value, digits) -%}
    {{ return(adapter.dispatch('round_money')(value, digits)) }}
{%- endmacro %}

{% macro default__round_money(value, digits) -%}
    cast(round({{ value }}, {{ digits }}) as {{ decimal_type() }})
{%- endmacro %}

{#- DuckDB rounds a DECIMAL exactly, half away from zero, but only to a constant number of
    digits: one branch per minor-unit count ISO 4217 uses. -#}
{% macro duckdb__round_money(value, digits) -%}
    {#- Each branch cast on its own: DuckDB gives the CASE the first branch's scale. -#}
    case {{ digits }}
        when 0 then cast(round({{ value }}, 0) as {{ decimal_type() }})
        when 2 then cast(round({{ value }}, 2) as {{ decimal_type() }})
        when 3 then cast(round({{ value }}, 3) as {{ decimal_type() }})
        when 4 then cast(round({{ value }}, 4) as {{ decimal_type() }})
    end
{%- endmacro %}

{#- ceil(numerator / denominator) for non-negative decimals, exactly: packages of usage. -#}
{% macro ceil_ratio(numerator, denominator) -%}
    {{ return(adapter.dispatch('ceil_ratio')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__ceil_ratio(numerator, denominator) -%}
    ceil(cast({{ numerator }} as {{ decimal_type() }}) / {{ denominator }})
{%- endmacro %}

{% macro duckdb__ceil_ratio(numerator, denominator) -%}
    {%- set scaled_numerator -%}cast(cast({{ numerator }} as {{ decimal_type() }}) * 1000000000 as hugeint){%- endset -%}
    {%- set scaled_denominator -%}cast(cast({{ denominator }} as {{ decimal_type() }}) * 1000000000 as hugeint){%- endset -%}
    (({{ scaled_numerator }} + {{ scaled_denominator }} - 1) // {{ scaled_denominator }})
{%- endmacro %}

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

{#- On integers, as ceil_ratio: both sides in units of 10^-9 (the scale of decimal_type), the
    numerator scaled up by 10^digits first. -#}
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
