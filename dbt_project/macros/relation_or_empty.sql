{#- The rows of a relation dbt does not build, or no rows when it does not exist yet: the sync
    ledger (reverse_etl.sync_ledger) is created by the first reverse-ETL run, after dbt first
    builds, and `meterledger simulate` and the tests build warehouses that never sync. `relation`
    is the model's `source(...)` (called by the model, so the lineage holds even when the table is
    missing); `columns` lists [name, type] pairs, the columns selected and the types the empty
    result has, so the model's shape is the same either way. -#}
{% macro select_from_relation_or_empty(relation, columns) -%}
    {%- set existing = load_relation(relation) if execute else relation -%}
    {%- if existing is not none %}
    select
        {% for name, type in columns -%}
        cast({{ name }} as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {% endfor -%}
    from {{ relation }}
    {%- else %}
    select
        {% for name, type in columns -%}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {% endfor -%}
    from (select 1 as no_row) as nothing
    where 1 = 0
    {%- endif %}
{%- endmacro %}
