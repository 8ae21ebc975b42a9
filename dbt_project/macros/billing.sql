{#- The graduated rating of the billable positions (start, end] against one tier row: the
    units of the range inside the tier at its price, plus its flat fee when the tier's first
    unit falls in the range (`include_first_fee=false` leaves out tier 1's fee, due at zero
    already). Summed over a price table's tiers it is the range's charge. -#}
{% macro tier_range_charge(start, end, tiers, include_first_fee=true) -%}
    case
        when least({{ end }}, coalesce({{ tiers }}.upper_bound, {{ end }})) > greatest({{ start }}, {{ tiers }}.lower_bound)
            then (least({{ end }}, coalesce({{ tiers }}.upper_bound, {{ end }}))
                - greatest({{ start }}, {{ tiers }}.lower_bound)) * {{ tiers }}.unit_price
        else 0
    end
    + case
        when {{ tiers }}.lower_bound >= {{ start }} and {{ tiers }}.lower_bound < {{ end }}
            {%- if not include_first_fee %} and {{ tiers }}.tier_number > 1{% endif %}
            then {{ tiers }}.flat_fee
        else 0
    end
{%- endmacro %}

{#- A line's key is in a `;`-separated list of line keys (Salesforce Applies_To__c); no list
    means every line (the format's default). Portable: no string splitting. -#}
{% macro line_in_list(list_column, key_column) -%}
    ({{ list_column }} is null
        or {{ dbt.concat(["';'", list_column, "';'"]) }} like {{ dbt.concat(["'%;'", key_column, "';%'"]) }})
{%- endmacro %}
