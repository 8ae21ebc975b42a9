-- Each contract's currency and the digits its amounts are rounded to (ISO 4217 minor units).
-- A currency missing from the seed leaves minor_units null, which the not_null test reports.
select
    contracts.contract_id,
    contracts.currency_code,
    currencies.minor_units
from {{ ref('stg_salesforce__contracts') }} as contracts
left join {{ ref('currencies') }} as currencies
    on contracts.currency_code = currencies.currency_code
