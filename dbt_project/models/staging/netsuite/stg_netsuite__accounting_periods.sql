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
    is_quarter,
    is_year,
    modified_at
from versioned
where version_rank = 1
