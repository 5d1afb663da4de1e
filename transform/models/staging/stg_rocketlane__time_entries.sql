{#- Time entries deleted in Rocketlane come with `deleted: true` (include_deleted_time_entries):
    they are left out, like rows the loader marked deleted. -#}
{%- set src = source('rocketlane', 'time_entries') -%}
select
    cast({{ col('id') }} as {{ dbt.type_bigint() }}) as time_entry_id,
    {{ to_date(col('date')) }} as entry_date,
    cast({{ col('minutes') }} as {{ dbt.type_bigint() }}) as minutes,
    coalesce({{ col('billable') }}, false) as is_billable,
    cast(coalesce({{ col('projectId') }}, {{ json_bigint(col('project'), 'projectId') }}) as {{ dbt.type_bigint() }}) as project_id,
    {{ json_bigint(col('task'), 'taskId') }} as task_id,
    {{ json_bigint(col('projectPhase'), 'phaseId') }} as phase_id,
    {{ json_bigint(col('user'), 'userId') }} as user_id,
    {{ person_name(col('user')) }} as user_name,
    {{ col('activityName') }} as activity_name,
    {{ json_text(col('category'), 'categoryName') }} as category_name,
    {{ col('sourceType') }} as source_type,
    {{ col('status') }} as approval_status,
    {{ json_float(col('costRate'), 'rate') }} as cost_rate,
    {{ json_text(col('costRate'), 'currency') }} as cost_rate_currency,
    {{ json_float(col('billRate'), 'rate') }} as bill_rate,
    {{ json_text(col('billRate'), 'currency') }} as bill_rate_currency,
    cast({{ col('createdAt') }} as {{ dbt.type_timestamp() }}) as created_at,
    cast({{ col('updatedAt') }} as {{ dbt.type_timestamp() }}) as updated_at,
    cast({{ col('submittedAt') }} as {{ dbt.type_timestamp() }}) as submitted_at,
    cast({{ col('approvedAt') }} as {{ dbt.type_timestamp() }}) as approved_at{{ custom_fields_column(src) }}
from {{ src }}
where {{ not_soft_deleted(src) }}
  and coalesce({{ col('deleted') }}, false) = false
