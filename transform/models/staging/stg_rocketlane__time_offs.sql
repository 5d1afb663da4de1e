{%- set src = source('rocketlane', 'time_offs') -%}
select
    cast({{ col('id') }} as {{ dbt.type_bigint() }}) as time_off_id,
    {{ json_bigint(col('user'), 'userId') }} as user_id,
    {{ to_date(col('startDate')) }} as start_date,
    {{ to_date(col('endDate')) }} as end_date,
    cast({{ col('durationInMinutes') }} as {{ dbt.type_bigint() }}) as minutes_per_day,
    {{ col('type') }} as time_off_type,
    {{ col('note') }} as note,
    cast({{ col('createdAt') }} as {{ dbt.type_timestamp() }}) as created_at{{ drift_column(src) }}
from {{ src }}
where {{ not_soft_deleted(src) }}
