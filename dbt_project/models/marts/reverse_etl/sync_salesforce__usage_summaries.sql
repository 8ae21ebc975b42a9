-- Usage summaries customer success sees on the Account in Salesforce: one per contract line,
-- meter and month, provisional until the month is complete.
select
    usage_month_key as external_id,
    account_id,
    contract_line_id,
    meter_id,
    usage_month as period_start,
    usage_month_end as period_end,
    quantity,
    currency_code,
    case when is_complete then 'final' else 'provisional' end as status
from {{ ref('fct_usage_monthly') }}
