-- Account.Credit_Balance__c of every Salesforce account holding prepaid credit (update only: the
-- accounts exist already). The balance is the remaining credit of the account's blocks
-- (sync_salesforce__credit_balances, 0 for expired ones) in the account's currency: a block
-- only pays usage of its own contract, in that contract's currency, so blocks in another
-- currency are not converted into the balance. They keep their own Credit_Balance__c record
-- and are counted in other_currency_block_count. An account without a currency takes its
-- blocks' currency when they share one.
with balances as (
    select * from {{ ref('sync_salesforce__credit_balances') }}
),

accounts as (
    select * from {{ ref('stg_salesforce__accounts') }}
    where not is_deleted
),

block_currencies as (
    select
        account_id,
        min(currency_code) as lowest_currency_code,
        max(currency_code) as highest_currency_code
    from balances
    group by account_id
),

account_currencies as (
    select
        accounts.account_id,
        coalesce(
            accounts.currency_code,
            case
                when block_currencies.lowest_currency_code = block_currencies.highest_currency_code
                    then block_currencies.lowest_currency_code
            end
        ) as currency_code
    from accounts
    inner join block_currencies
        on accounts.account_id = block_currencies.account_id
)

select
    account_currencies.account_id,
    cast(coalesce(sum(
        case when balances.currency_code = account_currencies.currency_code then balances.remaining_amount end
    ), 0) as {{ decimal_type() }}) as credit_balance,
    account_currencies.currency_code,
    cast(sum(
        case when balances.currency_code = account_currencies.currency_code then 0 else 1 end
    ) as {{ dbt.type_int() }}) as other_currency_block_count
from account_currencies
inner join balances
    on account_currencies.account_id = balances.account_id
group by account_currencies.account_id, account_currencies.currency_code
