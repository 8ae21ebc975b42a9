-- The usage records each NetSuite invoice line bills: one row per invoice line and usage record.
-- SuiteQL answers a transaction line's `usage` as one text value, the internal IDs of the usage
-- records joined by commas ("401,417"); it is split here on a spine of positions (a line bills its
-- subscription line's records of one bill period: the period's record and the adjustments booked
-- in it, far fewer than the spine's 1,000). split_part exists on DuckDB and PostgreSQL alike
-- (dbt.split_part's PostgreSQL form takes only a literal position).
with invoice_lines as (
    select
        invoice_line_id,
        invoice_id,
        subscription_line_id,
        usage_record_ids
    from {{ ref('stg_netsuite__invoice_lines') }}
    where usage_record_ids is not null
),

positions as (
    {{ integer_spine(3) }}
),

split as (
    select
        invoice_lines.invoice_line_id,
        invoice_lines.invoice_id,
        invoice_lines.subscription_line_id,
        positions.number + 1 as usage_record_position,
        trim(split_part(invoice_lines.usage_record_ids, ',', positions.number + 1)) as usage_record_id
    from invoice_lines
    inner join positions
        on positions.number
        <= {{ dbt.length('invoice_lines.usage_record_ids') }}
        - {{ dbt.length(dbt.replace('invoice_lines.usage_record_ids', "','", "''")) }}
)

select
    {{ dbt.concat(["invoice_line_id", "':'", "usage_record_id"]) }} as invoice_line_usage_record_id,
    invoice_line_id,
    invoice_id,
    subscription_line_id,
    cast(usage_record_position as {{ dbt.type_int() }}) as usage_record_position,
    usage_record_id
from split
where usage_record_id <> ''
