{#- Invoice lines (opt-in stream `invoice-lines`), with the project a line bills (`projectId`,
    which tap-pm sets from a PROJECT source); none without invoices (var rocketlane_using_invoices). -#}
{%- set src = source('rocketlane', 'invoice_lines') -%}
{%- set present = using_source('invoices', 'using_invoices') and source_exists('invoice_lines') -%}
{{ staged_select(src, present, [
    ('invoice_line_id', col('id'), dbt.type_bigint()),
    ('invoice_id', col('invoiceId'), dbt.type_bigint()),
    ('project_id', col('projectId'), dbt.type_bigint()),
    ('description', col('description'), dbt.type_string()),
    ('quantity', col('quantity'), dbt.type_numeric()),
    ('unit_price', col('unitPrice'), dbt.type_numeric()),
    ('amount', col('amount'), dbt.type_numeric()),
    ('tax_amount', 'coalesce(' ~ json_float(col('taxCode'), 'taxCodeAmount') ~ ', 0)', dbt.type_numeric()),
]) }}
