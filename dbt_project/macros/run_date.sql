{#- The run date: the pipeline runs as if today were `as_of` (a `YYYY-MM-DD` var; `meterledger
    simulate` sets it from the scenario), otherwise today's UTC date. -#}
{% macro as_of_date() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as date)
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}

{#- An accounting period's label, `YYYY-MM`, from its first day (a date column). -#}
{% macro accounting_period_label(period_start) -%}
    {{ return(adapter.dispatch('accounting_period_label')(period_start)) }}
{%- endmacro %}

{% macro default__accounting_period_label(period_start) -%}
    to_char({{ period_start }}, 'YYYY-MM')
{%- endmacro %}

{% macro duckdb__accounting_period_label(period_start) -%}
    strftime({{ period_start }}, '%Y-%m')
{%- endmacro %}
