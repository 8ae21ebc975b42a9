{#- Engine-specific parsing of raw text, behind adapter.dispatch so the models stay portable:
    another adapter adds its own <adapter>__ implementation (PostgreSQL comes with issue 10). -#}

{#- An ISO 8601 timestamp with zone, as a UTC timestamp; null when it does not parse. -#}
{% macro utc_timestamp_from_text(expression) -%}
    {{ return(adapter.dispatch('utc_timestamp_from_text', 'meterledger')(expression)) }}
{%- endmacro %}

{% macro default__utc_timestamp_from_text(expression) -%}
    (try_cast({{ expression }} as timestamp with time zone) at time zone 'UTC')
{%- endmacro %}

{#- A decimal from text; null when it does not parse. -#}
{% macro decimal_from_text(expression) -%}
    {{ return(adapter.dispatch('decimal_from_text', 'meterledger')(expression)) }}
{%- endmacro %}

{% macro default__decimal_from_text(expression) -%}
    try_cast({{ expression }} as {{ decimal_type() }})
{%- endmacro %}


{#- SuiteQL returns booleans as 'T' / 'F'; the REST record API as true / false. A checkbox is
    never null in NetSuite: a missing value (SuiteQL leaves nulls out of a row) is false. -#}
{% macro netsuite_boolean(expression) -%}
    coalesce(lower(cast({{ expression }} as {{ api.Column.translate_type('string') }})) in ('t', 'true'), false)
{%- endmacro %}

{#- One key of a JSON object held as text, the key given as a SQL expression. -#}
{% macro json_text_value_at(expression, key_expression) -%}
    {{ return(adapter.dispatch('json_text_value_at', 'meterledger')(expression, key_expression)) }}
{%- endmacro %}

{% macro default__json_text_value_at(expression, key_expression) -%}
    json_extract_string({{ expression }}, '$.' || {{ key_expression }})
{%- endmacro %}
