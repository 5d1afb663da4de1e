{%- set src = source('rocketlane', 'fields') -%}
select
    cast({{ col('id') }} as {{ dbt.type_bigint() }}) as field_id,
    {{ col('fieldLabel') }} as field_label,
    {{ col('fieldType') }} as field_type,
    {{ col('objectType') }} as object_type,
    {{ col('enabled') }} as is_enabled,
    {{ col('private') }} as is_private,
    cast({{ col('createdAt') }} as {{ dbt.type_timestamp() }}) as created_at,
    cast({{ col('updatedAt') }} as {{ dbt.type_timestamp() }}) as updated_at
from {{ src }}
where {{ not_soft_deleted(src) }}
