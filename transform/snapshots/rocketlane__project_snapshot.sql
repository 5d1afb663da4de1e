{#- Projects' history, one row per version: a new row when the status, the current phases or the
    start or due date change between two builds, stamped with the project's `updatedAt`; a
    deleted project closes its last row at the build's time. -#}
{% snapshot rocketlane__project_snapshot %}
{{ config(
    unique_key='project_id',
    strategy='check',
    check_cols=['status_value', 'current_phase_ids', 'start_date', 'due_date'],
    updated_at='updated_at',
    hard_deletes='invalidate',
) }}
with current_phases as (
    select
        p.project_id,
        {{ dbt.listagg('cast(' ~ json_bigint('c.value', 'phaseId') ~ ' as ' ~ dbt.type_string() ~ ')', "','",
            'order by ' ~ json_bigint('c.value', 'phaseId')) }} as current_phase_ids
    from {{ ref('stg_rocketlane__projects') }} as p
    {{ json_array_elements('p.current_phases', 'c') }}
    group by p.project_id
)

select
    p.project_id,
    p.status_value,
    p.status_label,
    coalesce(c.current_phase_ids, '') as current_phase_ids,
    p.start_date,
    p.due_date,
    p.updated_at
from {{ ref('stg_rocketlane__projects') }} as p
left join current_phases as c on c.project_id = p.project_id
{% endsnapshot %}
