-- Each contract with what the models that report per customer need beside it: its account,
-- the account's customer key, and its currency with the digits amounts are rounded to.
select
    contracts.contract_id,
    contracts.contract_key,
    contracts.account_id,
    accounts.customer_key,
    currencies.currency_code,
    currencies.minor_units
from {{ ref('stg_salesforce__contracts') }} as contracts
left join {{ ref('stg_salesforce__accounts') }} as accounts
    on contracts.account_id = accounts.account_id
inner join {{ ref('int_contract_currencies') }} as currencies
    on contracts.contract_id = currencies.contract_id
