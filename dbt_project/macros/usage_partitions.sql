{#- The incremental usage models are stored by delivery day (the folder a file was delivered
    in) and a run rewrites whole days: delete+insert keyed by the day on DuckDB and PostgreSQL,
    insert_overwrite of the day's partition on Spark (parquet, no Delta). Both replace exactly
    the days the run computed, so a day computed again is never doubled. -#}
{% macro delivery_day_partitions() -%}
    {%- if target.type == 'spark' -%}
        {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': ['delivered_on']}) }}
    {%- else -%}
        {{ return({'incremental_strategy': 'delete+insert', 'unique_key': 'delivered_on'}) }}
    {%- endif -%}
{%- endmacro %}




{#- When this dbt invocation started, as a timestamp: the models after an incremental usage
    model take in the delivery days it wrote since they last ran. -#}
{% macro run_stamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#- The delivery days `relation` (an incremental usage model stamped with `stamp_column`)
    wrote since the model being built took them in: every day on a first build or a full
    refresh. -#}
{% macro delivery_days_written_since_last_run(relation, stamp_column) -%}
    select distinct delivered_on
    from {{ relation }}
    {%- if is_incremental() %}
    where {{ stamp_column }} > (select coalesce(max({{ stamp_column }}), cast('1970-01-01' as {{ dbt.type_timestamp() }})) from {{ this }})
    {%- endif %}
{%- endmacro %}
