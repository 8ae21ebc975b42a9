{#- dbt's unit-test materialization, for PostgreSQL: the same steps, with two differences.
    - The scratch table is named after the first 40 characters of the unit test's name. dbt names
      it after the whole name, and PostgreSQL refuses identifiers over 63 characters (dbt-postgres
      raises "Relation name ... is longer than 63 characters"), while this project's unit tests
      are named by the rule they check, sentences of up to 90 characters.
    - Numbers are compared by value: dbt compares the two sides' rows as text, and a PostgreSQL
      numeric without a declared scale prints each value with its own (the expected 1000.0
      against the computed 1000.000000000). trim_scale drops trailing zeros only, never a digit
      that counts, so 1000.01 still differs from 1000.1. DuckDB's decimals print with the
      column's fixed scale and need none of this. -#}
{%- materialization unit, adapter="postgres" -%}

  {% set relations = [] %}
  {% set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none %}

  {% set expected_rows = config.get('expected_rows') %}
  {% set expected_sql = config.get('expected_sql') %}
  {% set tested_expected_column_names = expected_rows[0].keys() if (expected_rows | length ) > 0 else get_columns_in_query(sql) %}

  {%- set target_relation = this.incorporate(path={"identifier": this.identifier[:40]}, type='table') -%}
  {%- set temp_relation = make_temp_relation(target_relation)-%}
  {% do run_query(get_create_table_as_sql(True, temp_relation, get_empty_subquery_sql(sql))) %}
  {%- set columns_in_relation = adapter.get_columns_in_relation(temp_relation) -%}
  {%- set column_name_to_data_types = {} -%}
  {%- set column_name_to_quoted = {} -%}
  {%- for column in columns_in_relation -%}
  {%-   do column_name_to_data_types.update({column.name|lower: column.data_type}) -%}
  {%-   do column_name_to_quoted.update({column.name|lower: column.quoted}) -%}
  {%- endfor -%}

  {%- set expected_column_names_quoted = [] -%}
  {%- for column_name in tested_expected_column_names -%}
  {%-   set quoted = column_name_to_quoted[column_name|lower] -%}
  {%-   if column_name_to_data_types[column_name|lower].startswith('numeric') -%}
  {%-     do expected_column_names_quoted.append('trim_scale(' ~ quoted ~ ') as ' ~ quoted) -%}
  {%-   else -%}
  {%-     do expected_column_names_quoted.append(quoted) -%}
  {%-   endif -%}
  {%- endfor -%}

  {% if not expected_sql %}
  {%   set expected_sql = get_expected_sql(expected_rows, column_name_to_data_types, column_name_to_quoted) %}
  {% endif %}
  {% set unit_test_sql = get_unit_test_sql(sql, expected_sql, expected_column_names_quoted) %}

  {% call statement('main', fetch_result=True) -%}

    {% if sql_header %}{{ sql_header }}{% endif %}
    {{ unit_test_sql }}

  {%- endcall %}

  {% do adapter.drop_relation(temp_relation) %}

  {{ return({'relations': relations}) }}

{%- endmaterialization -%}
