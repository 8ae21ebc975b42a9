-- Charges that happen once (scenario-format.md, "Timing"): one_time fees on their date, and
-- prepaid credit purchases, invoiced on the purchase date for the block's whole amount (the
-- period shown is the block's validity).
with lines as (
    select lines.*
    from {{ ref('stg_salesforce__contract_lines') }} as lines
    inner join {{ ref('stg_salesforce__contracts') }} as contracts
        on lines.contract_id = contracts.contract_id
    where lines.line_kind in ('one_time', 'prepaid_credit')
        and not lines.is_deleted
        and not contracts.is_deleted
        and contracts.contract_status = 'Activated'
),

contract_currencies as (
    select * from {{ ref('int_contract_currencies') }}
)

select
    lines.line_key as charge_key,
    lines.contract_line_id,
    lines.line_key,
    lines.contract_id,
    lines.line_kind,
    case lines.line_kind when 'one_time' then lines.charge_date else lines.purchase_date end as period_start,
    case lines.line_kind when 'one_time' then lines.charge_date else lines.expiry_date end as period_end,
    {{ round_money('lines.amount', 'contract_currencies.minor_units') }} as amount,
    contract_currencies.currency_code,
    case lines.line_kind when 'one_time' then lines.charge_date else lines.purchase_date end as invoice_date
from lines
inner join contract_currencies
    on lines.contract_id = contract_currencies.contract_id
