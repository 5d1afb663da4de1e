{#- One row per project and stretch of time in one status, with when it entered and left it and
    the hours it spent there (see the status_history macro), from rocketlane__project_snapshot. -#}
{{ status_history('rocketlane__project_snapshot', 'project_id', []) }}
