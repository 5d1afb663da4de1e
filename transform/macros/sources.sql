{#- Tables a selection may leave out: the opt-in streams (invoices, resource allocations) and
    `fields`. A loader makes a table only for a stream it was sent. -#}

{#- Whether tap-pm's table `name` (a source table of _sources.yml) exists; true while parsing,
    so that every ref() a model may make is known to dbt. -#}
{% macro source_exists(name) -%}
  {%- if not execute -%}{{ return(true) }}{%- endif -%}
  {%- set src = source('rocketlane', name) -%}
  {%- set found = adapter.get_relation(database=src.database, schema=src.schema, identifier=src.identifier) -%}
  {{ return(found is not none) }}
{%- endmacro %}


{#- Whether the models use the opt-in table `name`: var `var_name` (using_invoices,
    using_resource_allocations) when set to true or false, else whether the table exists. -#}
{% macro using_source(name, var_name) -%}
  {%- set setting = rocketlane_var(var_name) -%}
  {%- if setting is none or setting | string | trim == '' -%}
    {{ return(source_exists(name)) }}
  {%- endif -%}
  {{ return(setting | string | lower in ('true', '1', 'yes')) }}
{%- endmacro %}


{#- A staging model's select: `columns` is a list of (name, expression, type). From `src`, without
    the rows the loader marked deleted, when `present`; else no row, with the same columns and
    types, so that the models built on it still build. -#}
{% macro staged_select(src, present, columns, where=none) -%}
  {%- if present %}
select
  {%- for name, expression, type in columns %}
    cast({{ expression }} as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
  {%- endfor %}
from {{ src }}
where {{ not_soft_deleted(src) }}
  {%- if where %}
  and {{ where }}
  {%- endif %}
  {%- else %}
select
  {%- for name, expression, type in columns %}
    cast(null as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
  {%- endfor %}
where 1 = 0
  {%- endif %}
{%- endmacro %}
