{#- Invoices (opt-in stream `invoices`): no row unless the models use them (var rocketlane_using_invoices,
    by default whether the table exists). -#}
{%- set src = source('rocketlane', 'invoices') -%}
{{ staged_select(src, using_source('invoices', 'using_invoices'), [
    ('invoice_id', col('id'), dbt.type_bigint()),
    ('invoice_number', col('invoiceNumber'), dbt.type_string()),
    ('invoice_status', col('status'), dbt.type_string()),
    ('currency_code', col('currency'), dbt.type_string()),
    ('issued_on', col('dateOfIssue'), 'date'),
    ('due_on', col('dueDate'), 'date'),
    ('amount', col('amount'), dbt.type_numeric()),
    ('sub_total', col('subTotal'), dbt.type_numeric()),
    ('tax', col('tax'), dbt.type_numeric()),
    ('amount_paid', col('amountPaid'), dbt.type_numeric()),
    ('amount_outstanding', col('amountOutstanding'), dbt.type_numeric()),
    ('amount_written_off', col('amountWrittenOff'), dbt.type_numeric()),
    ('company_id', json_bigint(col('company'), 'companyId'), dbt.type_bigint()),
    ('company_name', json_text(col('company'), 'companyName'), dbt.type_string()),
    ('created_at', col('createdAt'), dbt.type_timestamp()),
    ('updated_at', col('updatedAt'), dbt.type_timestamp()),
]) }}
