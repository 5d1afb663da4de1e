{#- Resource allocations (opt-in stream `resource-allocations`): a team member or a placeholder
    planned on a project for some minutes per working day from a start to an end date. No row
    unless the models use them (var rocketlane_using_resource_allocations, by default whether the table
    exists). -#}
{%- set src = source('rocketlane', 'resource_allocations') -%}
{{ staged_select(src, using_source('resource_allocations', 'using_resource_allocations'), [
    ('allocation_key', col('id'), dbt.type_string()),
    ('project_id', 'coalesce(' ~ col('projectId') ~ ', ' ~ json_bigint(col('project'), 'projectId') ~ ')', dbt.type_bigint()),
    ('project_name', json_text(col('project'), 'projectName'), dbt.type_string()),
    ('allocation_for', col('allocationFor'), dbt.type_string()),
    ('allocation_type', col('allocationType'), dbt.type_string()),
    ('user_id', json_bigint(col('member'), 'userId'), dbt.type_bigint()),
    ('placeholder_id', json_bigint(col('placeholder'), 'placeholderId'), dbt.type_bigint()),
    ('placeholder_name', json_text(col('placeholder'), 'placeholderName'), dbt.type_string()),
    ('start_date', col('startDate'), 'date'),
    ('end_date', col('endDate'), 'date'),
    ('minutes_per_day', 'coalesce(' ~ col('minutesPerDay') ~ ', ' ~ col('secondsPerDay') ~ ' / 60.0)', type_double()),
    ('created_at', col('createdAt'), dbt.type_timestamp()),
    ('updated_at', col('updatedAt'), dbt.type_timestamp()),
]) }}
