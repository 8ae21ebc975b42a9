-- Account fields meterledger writes (update only: the accounts exist already): the credit
-- balance and the usage alerts of fct_usage_alerts.
-- Accounts: every non-deleted account holding prepaid credit bought by the run date or a usage
-- line with a committed quantity (an included quantity, on a line not priced by percentage, as
-- fct_usage_alerts defines it). That is every account that can have an alert, so an account
-- whose alert has ended is still here, with null alert fields, and the sync clears them.
-- The balance is the remaining credit of the account's blocks (sync_salesforce__credit_balances,
-- 0 for expired ones) in the account's currency: a block only pays usage of its own contract, in
-- that contract's currency, so blocks in another currency are not converted into the balance.
-- They keep their own Credit_Balance__c record and are counted in other_currency_block_count.
-- An account without a currency takes its blocks' currency when they share one. An account
-- without prepaid credit has no balance (null: the field is left as it is).
with balances as (
    select * from {{ ref('sync_salesforce__credit_balances') }}
),

alerts as (
    select * from {{ ref('fct_usage_alerts') }}
),

accounts as (
    select * from {{ ref('stg_salesforce__accounts') }}
    where not is_deleted
),

committed_accounts as (
    select distinct contracts.account_id
    from {{ ref('int_contract_line_versions') }} as versions
    inner join {{ ref('stg_salesforce__contracts') }} as contracts
        on versions.contract_id = contracts.contract_id
    where versions.line_kind = 'usage'
        and versions.included_quantity > 0
        and versions.price_model <> 'percentage'
),

synced_accounts as (
    select account_id from balances
    union
    select account_id from committed_accounts
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
    inner join synced_accounts
        on accounts.account_id = synced_accounts.account_id
    left join block_currencies
        on accounts.account_id = block_currencies.account_id
),

account_balances as (
    select
        account_currencies.account_id,
        account_currencies.currency_code,
        cast(count(balances.credit_block_id) as {{ dbt.type_int() }}) as credit_block_count,
        case
            when count(balances.credit_block_id) > 0 then coalesce(sum(
                case when balances.currency_code = account_currencies.currency_code then balances.remaining_amount end
            ), 0)
        end as credit_balance,
        sum(
            case
                when balances.credit_block_id is null then 0
                when balances.currency_code = account_currencies.currency_code then 0
                else 1
            end
        ) as other_currency_block_count
    from account_currencies
    left join balances
        on account_currencies.account_id = balances.account_id
    group by account_currencies.account_id, account_currencies.currency_code
),

-- The highest commitment level reached on any of the account's lines.
commit_levels as (
    select
        account_id,
        alert_type,
        row_number() over (partition by account_id order by threshold desc, share_used desc, alert_key) as level_rank
    from alerts
    where alert_type <> 'credit_runout'
),

-- Every alert of the account in one text: commitments first (highest share first), then credit
-- run-outs (soonest first). Three at most, so that the text fits Usage_Alert__c (1,000 characters).
account_alerts as (
    select
        account_id,
        count(*) as alert_count,
        min(projected_runout_date) as credit_runout_date,
        {{ dbt.listagg(
            'alert_message', "' '",
            "order by case when alert_type = 'credit_runout' then 1 else 0 end, threshold desc, share_used desc, "
            ~ "projected_runout_date, alert_key",
            3) }} as alert_messages
    from alerts
    group by account_id
)

select
    account_balances.account_id,
    cast(account_balances.credit_balance as {{ decimal_type() }}) as credit_balance,
    account_balances.currency_code,
    cast(account_balances.other_currency_block_count as {{ dbt.type_int() }}) as other_currency_block_count,
    account_balances.credit_block_count,
    commit_levels.alert_type as usage_alert_level,
    -- Cut to the field's length only in case line keys are unusually long: a longer text would
    -- fail the whole account's update, credit balance included.
    substring(
        case
            when account_alerts.alert_count > 3 then {{ dbt.concat([
                "account_alerts.alert_messages", "' (+'",
                dbt.safe_cast("account_alerts.alert_count - 3", api.Column.translate_type("string")),
                "' more)'"]) }}
            else account_alerts.alert_messages
        end,
        1, 1000
    ) as usage_alert_message,
    account_alerts.credit_runout_date
from account_balances
left join commit_levels
    on account_balances.account_id = commit_levels.account_id
    and commit_levels.level_rank = 1
left join account_alerts
    on account_balances.account_id = account_alerts.account_id
