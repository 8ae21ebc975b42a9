{#- The units of the billable positions (start, end] inside one tier row, at the tier's unit
    price. Summed over a price table's tiers it is the range's graduated charge before flat fees. -#}
{% macro tier_range_units_charge(start, end, tiers) -%}
    case
        when {{ tier_range_touches(start, end, tiers) }}
            then (least({{ end }}, coalesce({{ tiers }}.upper_bound, {{ end }}))
                - greatest({{ start }}, {{ tiers }}.lower_bound)) * {{ tiers }}.unit_price
        else 0
    end
{%- endmacro %}

{#- Some of the billable positions (start, end] fall in the tier row. A tier's flat fee is due
    once per billing period, in the first segment some of whose positions fall in that tier (by
    tier number) of the segment's own price table (docs/scenarios.md, "Rating details"). -#}
{% macro tier_range_touches(start, end, tiers) -%}
    least({{ end }}, coalesce({{ tiers }}.upper_bound, {{ end }})) > greatest({{ start }}, {{ tiers }}.lower_bound)
{%- endmacro %}

{#- A line's key is in a `;`-separated list of line keys (Salesforce Applies_To__c); no list
    means every line (the format's default). Portable: no string splitting. -#}
{% macro line_in_list(list_column, key_column) -%}
    ({{ list_column }} is null
        or {{ dbt.concat(["';'", list_column, "';'"]) }} like {{ dbt.concat(["'%;'", key_column, "';%'"]) }})
{%- endmacro %}
