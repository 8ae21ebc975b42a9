-- Credit_Balance__c records that should exist in Salesforce: one per prepaid credit block bought
-- by the run date, keyed by the block's ID (its credit line's key, as on the journal entry lines).
-- Granted, consumed and remaining as int_credit_block_balances has them (remaining 0 once the
-- block has expired).
with balances as (
    select * from {{ ref('int_credit_block_balances') }}
)

select
    credit_line_key as external_id,
    account_id,
    credit_line_key as credit_block_id,
    cast(granted_amount as {{ decimal_type() }}) as granted_amount,
    cast(consumed_amount as {{ decimal_type() }}) as consumed_amount,
    cast(remaining_amount as {{ decimal_type() }}) as remaining_amount,
    currency_code,
    expiry_date as expires_on,
    {{ as_of_date() }} as as_of
from balances
