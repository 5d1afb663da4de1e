{#- The package's vars are prefixed `rocketlane_` (rocketlane_weeks_ahead, ...), so that they do not
    clash with another package's. Their defaults are here, in one place; the unprefixed names of
    release 1.0 are still read for one release (deprecated: CHANGELOG.md), when the prefixed name
    is not set. -#}
{% macro rocketlane_var_defaults() -%}
  {{ return({
    'using_invoices': none,
    'using_resource_allocations': none,
    'invoice_statuses_not_billed': ['DRAFT', 'VOID'],
    'custom_fields_include': [],
    'custom_fields_exclude': [],
    'custom_field_column_names': {},
    'weeks_ahead': 12,
    'under_allocated_below': 0.5,
    'task_completed_status_values': [3],
    'phase_completed_status_values': [3],
    'project_completed_status_values': [3],
    'project_running_status_values': [2],
    'project_closed_status_values': [3, 5],
    'task_status_values': [1, 2, 3, 4, 5],
    'phase_status_values': [1, 2, 3, 4, 5],
    'project_status_values': [1, 2, 3, 4, 5],
    'as_of_date': '',
    'working_days_per_week': 5,
    'max_time_off_days': 400,
  }) }}
{%- endmacro %}

{#- Var `rocketlane_<name>`; else the deprecated `<name>` (with a warning); else the default. -#}
{% macro rocketlane_var(name) -%}
  {%- set defaults = rocketlane_var_defaults() -%}
  {%- if name not in defaults -%}
    {{ exceptions.raise_compiler_error("rocketlane_var: unknown var " ~ name) }}
  {%- endif -%}
  {%- set value = var('rocketlane_' ~ name, none) -%}
  {%- if value is not none -%}{{ return(value) }}{%- endif -%}
  {%- set old = var(name, none) -%}
  {%- if old is not none -%}
    {%- if execute -%}
      {%- do exceptions.warn("var `" ~ name ~ "` is deprecated: set `rocketlane_" ~ name ~ "` (CHANGELOG.md, 1.1.0)") -%}
    {%- endif -%}
    {{ return(old) }}
  {%- endif -%}
  {{ return(defaults[name]) }}
{%- endmacro %}
