-- Contract terms the warehouse cannot bill as sold, each with its reason, kept instead of billed
-- rounded or failing the daily build. Today: a money amount finer than its contract currency's
-- minor unit. A Salesforce currency field has one scale for every currency (2 decimals holds a
-- JPY fee of 4500.50, which no invoice can carry); the format refuses such an amount (issue 22).
with contracts as (
    select
        contracts.contract_id,
        contracts.contract_key,
        contracts.account_id,
        contracts.currency_code,
        currencies.minor_units
    from {{ ref('stg_salesforce__contracts') }} as contracts
    left join {{ ref('currencies') }} as currencies
        on contracts.currency_code = currencies.currency_code
),

line_amounts as (
    select
        'contract_line' as record_type,
        contract_line_id as record_id,
        line_key as record_key,
        contract_line_id,
        contract_id,
        'Amount__c' as field_name,
        amount as field_value,
        modified_at
    from {{ ref('base_salesforce__contract_lines') }}
    where not is_deleted and amount is not null
),

amendment_amounts as (
    select
        'amendment' as record_type,
        amendment_id as record_id,
        amendment_key as record_key,
        contract_line_id,
        contract_id,
        'New_Amount__c' as field_name,
        new_amount as field_value,
        modified_at
    from {{ ref('base_salesforce__amendments') }}
    where not is_deleted and new_amount is not null
),

money_fields as (
    select * from line_amounts
    union all
    select * from amendment_amounts
)

select
    money_fields.record_type,
    money_fields.record_id,
    money_fields.record_key,
    money_fields.contract_line_id,
    money_fields.contract_id,
    contracts.contract_key,
    contracts.account_id,
    money_fields.field_name,
    money_fields.field_value,
    contracts.currency_code,
    contracts.minor_units,
    'amount_finer_than_currency' as quarantine_reason,
    {{ dbt.concat([
        "money_fields.field_name", "': '", decimal_text("money_fields.field_value"),
        "' has more decimals than '", "contracts.currency_code", "'''s '",
        dbt.safe_cast("contracts.minor_units", api.Column.translate_type("string")),
    ]) }} as quarantine_message,
    money_fields.modified_at
from money_fields
inner join contracts
    on money_fields.contract_id = contracts.contract_id
where money_fields.field_value <> {{ round_money('money_fields.field_value', 'contracts.minor_units') }}
