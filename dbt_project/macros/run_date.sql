{#- The run date: the pipeline runs as if today were `as_of` (a `YYYY-MM-DD` var; `meterledger
    simulate` sets it from the scenario), otherwise today's UTC date. -#}
{% macro as_of_date() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as date)
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}
