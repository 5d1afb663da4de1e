{#- Custom field definitions; none when the `fields` table was not loaded (e.g. '!fields.*'). -#}
{%- set src = source('rocketlane', 'fields') -%}
{{ staged_select(src, source_exists('fields'), [
    ('field_id', col('id'), dbt.type_bigint()),
    ('field_label', col('fieldLabel'), dbt.type_string()),
    ('field_type', col('fieldType'), dbt.type_string()),
    ('object_type', col('objectType'), dbt.type_string()),
    ('is_enabled', col('enabled'), dbt.type_boolean()),
    ('is_private', col('private'), dbt.type_boolean()),
    ('created_at', col('createdAt'), dbt.type_timestamp()),
    ('updated_at', col('updatedAt'), dbt.type_timestamp()),
]) }}
