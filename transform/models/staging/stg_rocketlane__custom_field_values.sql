{#- Custom field values of projects, tasks, users and time entries, one row per object and field:
    the `fields` arrays of the staging models (deleted rows already left out). `field_value` is
    the value as text (a string as is, a number, boolean, list or object as JSON text);
    `field_value_label` is Rocketlane's display text (option labels, user names);
    `field_value_user_id` the user a single-user field names. A table, not a view: three marts
    and a staging model read it, and unnesting the JSON arrays once is what costs. -#}
{{ config(materialized='table') }}
{%- set objects = [
    ('PROJECT', 'projects', 'project_id'),
    ('TASK', 'tasks', 'task_id'),
    ('USER', 'users', 'user_id'),
    ('TIME_ENTRY', 'time_entries', 'time_entry_id'),
] -%}
{%- set parts = [] -%}
{%- for object_type, stream, key in objects if has_column(source('rocketlane', stream), 'fields') -%}
  {%- do parts.append((object_type, stream, key)) -%}
{%- endfor -%}
{%- for object_type, stream, key in parts %}
select
    cast('{{ object_type }}' as {{ dbt.type_string() }}) as object_type,
    o.{{ key }} as object_id,
    {{ json_bigint('f.value', 'fieldId') }} as field_id,
    {{ json_text('f.value', 'fieldLabel') }} as field_label,
    {{ json_text('f.value', 'fieldValue') }} as field_value,
    {{ json_text('f.value', 'fieldValueLabel') }} as field_value_label,
    {{ json_bigint('f.value', 'fieldValue.userId') }} as field_value_user_id
from {{ ref('stg_rocketlane__' ~ stream) }} as o
{{ json_array_elements('o.custom_fields', 'f') }}
{% if not loop.last %}union all{% endif %}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as object_type,
    cast(null as {{ dbt.type_bigint() }}) as object_id,
    cast(null as {{ dbt.type_bigint() }}) as field_id,
    cast(null as {{ dbt.type_string() }}) as field_label,
    cast(null as {{ dbt.type_string() }}) as field_value,
    cast(null as {{ dbt.type_string() }}) as field_value_label,
    cast(null as {{ dbt.type_bigint() }}) as field_value_user_id
where 1 = 0
{%- endfor %}
