{#- One row per task and stretch of time in one status, with when it entered and left it and
    the hours it spent there (see the status_history macro), from rocketlane__task_snapshot. -#}
{{ status_history('rocketlane__task_snapshot', 'task_id', ['project_id']) }}
