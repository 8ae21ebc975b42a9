-- Journal entry external IDs are `je:<contract key>:<entry type>:<YYYY-MM>[:v<N>][:reversal]`,
-- read back part by part: a contract key holding ':' would be misread.
select
    contract_id,
    contract_key
from {{ ref('stg_salesforce__contracts') }}
where contract_key like '%:%'
