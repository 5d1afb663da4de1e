{#- Marts in the target schema; a model with a custom schema (staging) in `<target>_<custom>`:
    dbt's default, spelled out so the layout does not depend on it. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none -%}
    {{ target.schema }}
  {%- else -%}
    {{ target.schema }}_{{ custom_schema_name | trim }}
  {%- endif -%}
{%- endmacro %}
