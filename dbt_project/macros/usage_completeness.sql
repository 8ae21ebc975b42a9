{#- How far usage is complete: every usage source publishes a watermark ("complete through T");
    usage is complete only as far as the least complete source's newest one. A one-row select
    of `complete_through`, for finality (billing periods) and completeness (accounting periods). -#}
{% macro usage_complete_through() -%}
    select min(complete_through) as complete_through
    from (
        select
            usage_source,
            max(complete_through) as complete_through
        from {{ ref('stg_usage__watermarks') }}
        group by usage_source
    ) as source_watermarks
{%- endmacro %}
