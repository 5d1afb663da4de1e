{%- set src = source('rocketlane', 'spaces') -%}
select
    cast({{ col('id') }} as {{ dbt.type_bigint() }}) as space_id,
    {{ col('spaceName') }} as space_name,
    cast(coalesce({{ col('projectId') }}, {{ json_bigint(col('project'), 'projectId') }}) as {{ dbt.type_bigint() }}) as project_id,
    {{ col('private') }} as is_private,
    cast({{ col('createdAt') }} as {{ dbt.type_timestamp() }}) as created_at,
    cast({{ col('updatedAt') }} as {{ dbt.type_timestamp() }}) as updated_at{{ drift_column(src) }}
from {{ src }}
where {{ not_soft_deleted(src) }}
