-- Contract lines and amendments sold in Salesforce that meterledger does not bill, with the
-- customer and the reason: RevOps corrects them in the CRM and the next daily run bills them.
select
    quarantined.record_type,
    quarantined.record_key,
    quarantined.contract_key,
    accounts.customer_key,
    quarantined.field_name,
    quarantined.field_value,
    quarantined.currency_code,
    quarantined.quarantine_reason,
    quarantined.quarantine_message,
    quarantined.modified_at
from {{ ref('stg_salesforce__quarantined_contract_terms') }} as quarantined
left join {{ ref('stg_salesforce__accounts') }} as accounts
    on quarantined.account_id = accounts.account_id
