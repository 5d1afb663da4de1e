{#- The users a multiple-user custom field names, one row per object, field and user: the field's
    value is a list of e-mails (or of user references), matched to users by e-mail. -#}
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
{%- if parts %}
with entries as (
  {%- for object_type, stream, key in parts %}
    select
        cast('{{ object_type }}' as {{ dbt.type_string() }}) as object_type,
        o.{{ key }} as object_id,
        {{ json_bigint('f.value', 'fieldId') }} as field_id,
        {{ json_get('f.value', 'fieldValue') }} as field_value
    from {{ ref('stg_rocketlane__' ~ stream) }} as o
    {{ json_array_elements('o.custom_fields', 'f') }}
    {% if not loop.last %}union all{% endif %}
  {%- endfor %}
),

multiple_user as (
    select e.*
    from entries as e
    inner join {{ ref('stg_rocketlane__fields') }} as d on d.field_id = e.field_id
    where d.field_type = 'MULTIPLE_USER'
),

elements as (
    select
        m.object_type,
        m.object_id,
        m.field_id,
        {{ json_bigint('u.value', 'userId') }} as referenced_user_id,
        {{ json_element_text('u') }} as element_text
    from multiple_user as m
    {{ json_array_elements('m.field_value', 'u') }}
)

select
    e.object_type,
    e.object_id,
    e.field_id,
    coalesce(e.referenced_user_id, u.user_id) as user_id,
    coalesce(u.email, e.element_text) as user_email
from elements as e
left join {{ ref('stg_rocketlane__users') }} as u
    on e.referenced_user_id is null and lower(u.email) = lower(e.element_text)
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as object_type,
    cast(null as {{ dbt.type_bigint() }}) as object_id,
    cast(null as {{ dbt.type_bigint() }}) as field_id,
    cast(null as {{ dbt.type_bigint() }}) as user_id,
    cast(null as {{ dbt.type_string() }}) as user_email
where 1 = 0
{%- endif %}
