{#- The users a multiple-user custom field names, one row per object, field and user: the field's
    value is a list of e-mails (or of user references), matched to users by e-mail. -#}
with multiple_user as (
    {#- The value's JSON text, parsed back: a list (anything else names no one). #}
    select
        v.object_type,
        v.object_id,
        v.field_id,
        {{ json_parse('v.field_value') }} as field_value
    from {{ ref('stg_rocketlane__custom_field_values') }} as v
    inner join {{ ref('stg_rocketlane__fields') }} as d on d.field_id = v.field_id
    where d.field_type = 'MULTIPLE_USER' and v.field_value like '[%'
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
