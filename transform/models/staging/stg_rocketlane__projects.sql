{%- set src = source('rocketlane', 'projects') -%}
select
    cast({{ col('id') }} as {{ dbt.type_bigint() }}) as project_id,
    {{ col('projectName') }} as project_name,
    {{ json_bigint(col('status'), 'value') }} as status_value,
    {{ json_text(col('status'), 'label') }} as status_label,
    {{ json_bigint(col('owner'), 'userId') }} as owner_user_id,
    {{ person_name(col('owner')) }} as owner_name,
    {{ json_text(col('owner'), 'emailId') }} as owner_email,
    {{ json_bigint(col('customer'), 'companyId') }} as customer_company_id,
    {{ json_text(col('customer'), 'companyName') }} as customer_name,
    {{ to_date(col('startDate')) }} as start_date,
    {{ to_date(col('dueDate')) }} as due_date,
    {{ to_date(col('startDateActual')) }} as start_date_actual,
    {{ to_date(col('dueDateActual')) }} as due_date_actual,
    {{ col('archived') }} as is_archived,
    {{ col('visibility') }} as visibility,
    cast({{ col('budgetedHours') }} as {{ type_double() }}) as budgeted_hours,
    cast({{ col('percentageBudgetConsumed') }} as {{ type_double() }}) as percentage_budget_consumed,
    cast({{ col('percentageBudgetedHoursConsumed') }} as {{ type_double() }}) as percentage_budgeted_hours_consumed,
    {{ col('progressPercentage') }} as progress_percentage,
    {{ json_text(col('currency'), 'currencyCode') }} as currency_code,
    cast({{ col('projectFee') }} as {{ dbt.type_numeric() }}) as project_fee,
    {{ json_text(col('financials'), 'contractType') }} as contract_type,
    {{ json_text(col('financials'), 'revenueRecognitionType') }} as revenue_recognition_type,
    {%- for name, path in [
        ('actual_revenue', 'actualRevenue'), ('estimated_revenue', 'estimatedRevenue'),
        ('actual_cost', 'actualCost'), ('estimated_cost', 'estimatedCost'),
        ('actual_profit', 'actualProfit'), ('estimated_profit', 'estimatedProfit'),
        ('actual_margin_percent', 'actualProfitMargin'),
        ('estimated_margin_percent', 'estimatedProfitMargin'),
    ] %}
    cast({{ json_float(col('financials'), 'metrics.' ~ path) }} as {{ dbt.type_numeric() }}) as {{ name }},
    {%- endfor %}
    {#- Deprecated aliases (1.1.0, removed in 1.2.0): actual_profit and estimated_profit. #}
    cast({{ json_float(col('financials'), 'metrics.actualProfit') }} as {{ dbt.type_numeric() }}) as actual_margin,
    cast({{ json_float(col('financials'), 'metrics.estimatedProfit') }} as {{ dbt.type_numeric() }}) as estimated_margin,
    {{ col('currentPhases') }} as current_phases,
    cast({{ col('createdAt') }} as {{ dbt.type_timestamp() }}) as created_at,
    cast({{ col('updatedAt') }} as {{ dbt.type_timestamp() }}) as updated_at{{ custom_fields_column(src) }}{{ drift_column(src) }}
from {{ src }}
where {{ not_soft_deleted(src) }}
