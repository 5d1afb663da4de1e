{#- One row per phase and stretch of time in one status, with when it entered and left it and
    the hours it spent there (see the status_history macro), from rocketlane__phase_snapshot. -#}
{{ status_history('rocketlane__phase_snapshot', 'phase_id', ['project_id']) }}
