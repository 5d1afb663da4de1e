{%- set src = source('rocketlane', 'users') -%}
select
    cast({{ col('id') }} as {{ dbt.type_bigint() }}) as user_id,
    {{ col('email') }} as email,
    {{ col('firstName') }} as first_name,
    {{ col('lastName') }} as last_name,
    nullif(trim(coalesce({{ col('firstName') }}, '') || ' ' || coalesce({{ col('lastName') }}, '')), '') as full_name,
    {{ col('type') }} as user_type,
    {{ col('status') }} as user_status,
    {{ json_text(col('role'), 'roleName') }} as role_name,
    {{ json_bigint(col('company'), 'companyId') }} as company_id,
    {{ json_text(col('company'), 'companyName') }} as company_name,
    {{ json_text(col('permission'), 'permissionName') }} as permission_name,
    cast({{ col('capacityInMinutes') }} as {{ dbt.type_bigint() }}) as capacity_in_minutes,
    {{ json_bigint(col('holidayCalendar'), 'calenderId') }} as holiday_calendar_id,
    {{ json_text(col('holidayCalendar'), 'calenderName') }} as holiday_calendar_name,
    cast({{ col('createdAt') }} as {{ dbt.type_timestamp() }}) as created_at,
    cast({{ col('updatedAt') }} as {{ dbt.type_timestamp() }}) as updated_at{{ custom_fields_column(src) }}{{ drift_column(src) }}
from {{ src }}
where {{ not_soft_deleted(src) }}
