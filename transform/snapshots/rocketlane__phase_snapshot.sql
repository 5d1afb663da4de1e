{#- Phases' history, one row per version: a new row when the status or the start or due date
    change between two builds, stamped with the phase's `updatedAt`; a deleted phase closes its
    last row at the build's time. -#}
{% snapshot rocketlane__phase_snapshot %}
{{ config(
    unique_key='phase_id',
    strategy='check',
    check_cols=['status_value', 'start_date', 'due_date'],
    updated_at='updated_at',
    hard_deletes='invalidate',
) }}
select
    phase_id,
    project_id,
    status_value,
    status_label,
    start_date,
    due_date,
    updated_at
from {{ ref('stg_rocketlane__phases') }}
{% endsnapshot %}
