{#- Layer schemas keep their own names (staging, marts, ...) instead of dbt's
    "<target schema>_<custom schema>", so BI tools and reverse ETL read stable names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
