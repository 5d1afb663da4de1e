{%- set src = source('rocketlane', 'tasks') -%}
select
    cast({{ col('id') }} as {{ dbt.type_bigint() }}) as task_id,
    {{ col('taskName') }} as task_name,
    cast(coalesce({{ col('projectId') }}, {{ json_bigint(col('project'), 'projectId') }}) as {{ dbt.type_bigint() }}) as project_id,
    {{ json_bigint(col('phase'), 'phaseId') }} as phase_id,
    {{ json_bigint(col('parent'), 'taskId') }} as parent_task_id,
    {{ json_bigint(col('status'), 'value') }} as status_value,
    {{ json_text(col('status'), 'label') }} as status_label,
    {{ json_bigint(col('priority'), 'value') }} as priority_value,
    {{ json_text(col('priority'), 'label') }} as priority_label,
    {{ col('type') }} as task_type,
    {{ to_date(col('startDate')) }} as start_date,
    {{ to_date(col('dueDate')) }} as due_date,
    {{ to_date(col('startDateActual')) }} as start_date_actual,
    {{ to_date(col('dueDateActual')) }} as due_date_actual,
    {{ col('effortInMinutes') }} as effort_in_minutes,
    {{ col('progress') }} as progress,
    {{ col('archived') }} as is_archived,
    {{ col('atRisk') }} as is_at_risk,
    {{ col('billable') }} as is_billable,
    {{ col('private') }} as is_private,
    {{ json_get(col('assignees'), 'members') }} as assignee_members,
    cast({{ col('createdAt') }} as {{ dbt.type_timestamp() }}) as created_at,
    cast({{ col('updatedAt') }} as {{ dbt.type_timestamp() }}) as updated_at{{ custom_fields_column(src) }}{{ drift_column(src) }}
from {{ src }}
where {{ not_soft_deleted(src) }}
