with raw_rows as (
    select * from {{ source('netsuite', 'accountingperiod') }}
),

renamed as (
    select
        id as accounting_period_id,
        periodname as period_name,
        cast(startdate as date) as start_date,
        cast(enddate as date) as end_date,
        {{ netsuite_boolean('closed') }} as is_closed,
        {{ netsuite_boolean('alllocked') }} as is_all_locked,
        {{ netsuite_boolean('arlocked') }} as is_ar_locked,
        {{ netsuite_boolean('aplocked') }} as is_ap_locked,
        {{ netsuite_boolean('isquarter') }} as is_quarter,
        {{ netsuite_boolean('isyear') }} as is_year,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as modified_at
    from raw_rows
),

-- The loader merges on the key already; staging still keeps only the newest version.
versioned as (
    select
        *,
        row_number() over (partition by accounting_period_id order by modified_at desc) as version_rank
    from renamed
)

select
    accounting_period_id,
    period_name,
    start_date,
    end_date,
    is_closed,
    is_all_locked,
    is_ar_locked,
    is_ap_locked,
    -- closed: nothing posts; locked: closing has begun, nothing posts (All Locked) or receivables
    -- and payables are frozen (AR / AP locked); open: anything posts.
    case
        when is_closed then 'closed'
        when is_all_locked or is_ar_locked or is_ap_locked then 'locked'
        else 'open'
    end as period_status,
    is_quarter,
    is_year,
    modified_at
from versioned
where version_rank = 1
