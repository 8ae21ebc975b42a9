{{ config(severity='warn') }}
-- Activated amendments that take effect on or before their contract's start date, or after its
-- end date: int_contract_line_versions cannot apply them (there is no earlier term to end, or
-- no later term to change). A warning: the CRM holds them, billing shows the line as sold.
select
    amendments.amendment_id,
    amendments.amendment_key,
    amendments.effective_date,
    contracts.start_date,
    contracts.end_date
from {{ ref('stg_salesforce__amendments') }} as amendments
inner join {{ ref('stg_salesforce__contracts') }} as contracts
    on amendments.contract_id = contracts.contract_id
where amendments.amendment_status = 'Activated'
    and not amendments.is_deleted
    and (amendments.effective_date <= contracts.start_date or amendments.effective_date > contracts.end_date)
