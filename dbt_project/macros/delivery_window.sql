{#- The daily partition window an orchestrated run passes (vars usage_delivered_from and
    usage_delivered_through, `YYYY-MM-DD`, both inclusive) as the operands of a `between`, or
    an empty string when the run has none (a full or unpartitioned run). A bad date fails the
    run naming the var, before any SQL runs. -#}
{% macro delivery_window() -%}
    {%- set bounds = [] -%}
    {%- for name in ['usage_delivered_from', 'usage_delivered_through'] -%}
        {%- set value = var(name, none) -%}
        {%- if value is not none and value | string | length > 0 -%}
            {%- if not modules.re.match('^\\d{4}-\\d{2}-\\d{2}$', value | string) -%}
                {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a date YYYY-MM-DD, got " ~ value) }}
            {%- endif -%}
            {%- do bounds.append("cast('" ~ value ~ "' as date)") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if bounds | length == 1 -%}
        {{ exceptions.raise_compiler_error("usage_delivered_from and usage_delivered_through are set together") }}
    {%- endif -%}
    {{- bounds | join(' and ') -}}
{%- endmacro %}
