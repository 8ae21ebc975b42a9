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


{#- PostgreSQL has no try_cast: the parsing is done by two functions the run creates first
    (create_parsing_functions, an on-run-start hook). They accept what DuckDB's try_cast accepts
    here: ISO 8601 date-times (a missing zone is UTC) and plain or scientific decimals; anything
    else, 'NaN', 'now' or 'infinity' included, is null, as a malformed event field must be. -#}
{% macro postgres__utc_timestamp_from_text(expression) -%}
    {{ target.schema }}.meterledger_utc_timestamp_or_null(cast({{ expression }} as text))
{%- endmacro %}

{% macro postgres__decimal_from_text(expression) -%}
    {#- cast again: PostgreSQL drops the scale from a function's declared result type -#}
    cast({{ target.schema }}.meterledger_decimal_or_null(cast({{ expression }} as text)) as {{ decimal_type() }})
{%- endmacro %}

{% macro postgres__json_text_value_at(expression, key_expression) -%}
    (cast({{ expression }} as jsonb) ->> ({{ key_expression }}))
{%- endmacro %}

{% macro create_parsing_functions() -%}
    {{ return(adapter.dispatch('create_parsing_functions', 'meterledger')()) }}
{%- endmacro %}

{% macro default__create_parsing_functions() -%}
    select 1 {#- DuckDB parses with try_cast: nothing to create -#}
{%- endmacro %}

{% macro postgres__create_parsing_functions() -%}
    create schema if not exists {{ target.schema }};
    create or replace function {{ target.schema }}.meterledger_decimal_or_null(value text)
    returns {{ decimal_type() }} language plpgsql immutable as $body$
    begin
        if value is null or value !~ '^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$' then
            return null;
        end if;
        return cast(value as {{ decimal_type() }});
    exception when others then  -- out of range for the type
        return null;
    end
    $body$;
    create or replace function {{ target.schema }}.meterledger_utc_timestamp_or_null(value text)
    returns timestamp language plpgsql stable set timezone = 'UTC' as $body$
    begin
        if value is null or value !~ '^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?\s*(Z|z|UTC|[+-][0-9]{2}(:?[0-9]{2})?)?\s*$' then
            return null;
        end if;
        return cast(value as timestamp with time zone) at time zone 'UTC';
    exception when others then  -- a day or hour that does not exist
        return null;
    end
    $body$;
{%- endmacro %}


{#- The value a meter's `property` names, as text (scenario-format.md, "Clarifications"): the
    event's top-level field (quantity, amount) where it has one, else the key of its properties.
    unique_count counts these texts, so a top-level field is read here too, as canonical decimal
    text (3 and 3.0 are one value). -#}
{% macro meter_property_text(events, property) -%}
    case {{ property }}
        when 'quantity' then coalesce({{ decimal_text(events ~ ".quantity") }},
                                      {{ json_text_value_at(events ~ ".properties", property) }})
        when 'amount' then coalesce({{ decimal_text(events ~ ".amount") }},
                                    {{ json_text_value_at(events ~ ".properties", property) }})
        else {{ json_text_value_at(events ~ ".properties", property) }}
    end
{%- endmacro %}
