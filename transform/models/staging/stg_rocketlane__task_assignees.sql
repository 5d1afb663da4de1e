{#- Task assignees (team members and customers; placeholders are not people), one row per task
    and user. -#}
select
    t.task_id,
    {{ json_bigint('a.value', 'userId') }} as user_id,
    {{ person_name('a.value') }} as assignee_name,
    {{ json_text('a.value', 'emailId') }} as assignee_email
from {{ ref('stg_rocketlane__tasks') }} as t
{{ json_array_elements('t.assignee_members', 'a') }}
