{%- set src = source('rocketlane', 'space_documents') -%}
select
    cast({{ col('id') }} as {{ dbt.type_bigint() }}) as space_document_id,
    {{ col('spaceDocumentName') }} as space_document_name,
    {{ json_bigint(col('space'), 'spaceId') }} as space_id,
    cast({{ col('projectId') }} as {{ dbt.type_bigint() }}) as project_id,
    {{ col('spaceDocumentType') }} as space_document_type,
    {{ col('url') }} as url,
    {{ col('private') }} as is_private,
    cast({{ col('createdAt') }} as {{ dbt.type_timestamp() }}) as created_at,
    cast({{ col('updatedAt') }} as {{ dbt.type_timestamp() }}) as updated_at{{ drift_column(src) }}
from {{ src }}
where {{ not_soft_deleted(src) }}
