{%- set src = source('rocketlane', 'phases') -%}
select
    cast({{ col('id') }} as {{ dbt.type_bigint() }}) as phase_id,
    {{ col('phaseName') }} as phase_name,
    cast(coalesce({{ col('projectId') }}, {{ json_bigint(col('project'), 'projectId') }}) as {{ dbt.type_bigint() }}) as project_id,
    {{ json_bigint(col('status'), 'value') }} as status_value,
    {{ json_text(col('status'), 'label') }} as status_label,
    {{ to_date(col('startDate')) }} as start_date,
    {{ to_date(col('dueDate')) }} as due_date,
    {{ to_date(col('startDateActual')) }} as start_date_actual,
    {{ to_date(col('dueDateActual')) }} as due_date_actual,
    {{ col('private') }} as is_private,
    cast({{ col('createdAt') }} as {{ dbt.type_timestamp() }}) as created_at,
    cast({{ col('updatedAt') }} as {{ dbt.type_timestamp() }}) as updated_at{{ drift_column(src) }}
from {{ src }}
where {{ not_soft_deleted(src) }}
