-- A credit block's month-by-month balance rolls forward (opening + granted - drawn - expired =
-- closing, each opening the month before's closing) and ends, in its last month, at the block's
-- remaining amount as int_credit_block_balances has it: the credit page and the Salesforce credit
-- balances tell the same story. Rows returned are the breaks.
with months as (
    select
        *,
        lag(closing_balance) over (partition by credit_block_id order by period_start) as previous_closing,
        row_number() over (partition by credit_block_id order by period_start desc) as months_from_last
    from {{ ref('fct_credit_block_balances') }}
)

select
    months.credit_block_id,
    months.accounting_period,
    'does not roll forward' as problem
from months
where months.opening_balance + months.granted - months.drawn - months.expired <> months.closing_balance
    or months.opening_balance <> coalesce(months.previous_closing, 0)

union all

select
    months.credit_block_id,
    months.accounting_period,
    'last closing is not the remaining amount' as problem
from months
inner join {{ ref('int_credit_block_balances') }} as balances
    on months.credit_block_id = balances.credit_line_key
where months.months_from_last = 1
    and months.closing_balance <> balances.remaining_amount
