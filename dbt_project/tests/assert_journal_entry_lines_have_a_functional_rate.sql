-- Every journal entry line that can post has its functional-currency amounts: NetSuite holds a
-- rate from the entry's currency to its subsidiary's on or before the entry date. Finance's
-- reports read the functional columns, so a missing rate fails the build. (`meterledger
-- simulate` leaves this test out: a scenario states no exchange rates.)
select
    journal_entry_line_key,
    currency_code,
    functional_currency_code,
    entry_date
from {{ ref('fct_journal_entry_lines') }}
where posting_period is not null
    and exchange_rate is null
