-- Every journal entry balances to the cent: its debits equal its credits, in the transaction
-- currency and in the subsidiary's functional currency (where a rate exists). Lines are
-- checked from the lines model, not from the entry totals, so a header cannot hide a line.
select
    external_id,
    sum(debit) as total_debit,
    sum(credit) as total_credit,
    sum(functional_debit) as functional_total_debit,
    sum(functional_credit) as functional_total_credit
from {{ ref('fct_journal_entry_lines') }}
group by external_id
having sum(debit) <> sum(credit)
    or coalesce(sum(functional_debit), 0) <> coalesce(sum(functional_credit), 0)
    or count(*) < 2
