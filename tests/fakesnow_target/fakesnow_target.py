"""`target-snowflake` on fakesnow: the target's own code, its user-stage steps shimmed.

fakesnow (Snowflake emulated on DuckDB, in-process) runs everything the target does but load
through the user stage `@~`: it has named internal stages, PUT and COPY INTO a table, but no
user stage, no REMOVE or DROP FILE FORMAT, and no stage reads outside COPY; DuckDB cannot bind
the MERGE's `QUALIFY` (a LATERAL binder error) and fakesnow has no `SEQ8()`. So here:

- PUT puts the batch files on a named stage and copies them into a staging table, one VARIANT
  `line` per record, in file order (DuckDB's `rowid`);
- MERGE and COPY are the target's own statements, reading that table instead of the stage:
  `$1` becomes `line`, and the QUALIFY that keeps the last record per key a WHERE on `rowid`;
- REMOVE drops the staging table; DROP FILE FORMAT does nothing (the format is never read);
- streams are drained one at a time: fakesnow's MERGE goes through a scratch table of one name.

Table DDL, type mapping, the MERGE on the keys and ACTIVATE_VERSION stay the target's. The DuckDB
files go to the directory in FAKESNOW_DB_PATH (one file per database).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

import fakesnow
from sqlalchemy import text
from target_snowflake.connector import SnowflakeConnector
from target_snowflake.target import TargetSnowflake

if TYPE_CHECKING:
    from collections.abc import Sequence

STAGE_SCHEMA = "USER_STAGE"  # the named stage and the staging tables; no table left after a batch


def _staging_table(connector: SnowflakeConnector, sync_id: str) -> str:
    return f'{connector.config["database"]}.{STAGE_SCHEMA}."{sync_id}"'


def put_batches_to_stage(self: SnowflakeConnector, sync_id: str, files: list[str]) -> None:
    """PUT to a named stage, then COPY the records into the staging table that stands for it."""
    stage = f"{self.config['database']}.{STAGE_SCHEMA}.FILES"
    table = _staging_table(self, sync_id)
    with self._connect() as conn, conn.begin():
        conn.execute(text(f"create schema if not exists {self.config['database']}.{STAGE_SCHEMA}"))
        conn.execute(text(f"create stage if not exists {stage}"))
        for file_uri in files:
            conn.execute(text(f"put :file_uri @{stage}/{sync_id}"), {"file_uri": file_uri})
        conn.execute(text(f"create table {table} (line variant)"))
        conn.execute(text(f"copy into {table} from @{stage}/{sync_id} file_format = (type = json)"))


def _from_staging_table(self: SnowflakeConnector, statement: str, sync_id: str) -> str:
    stage = re.escape(f"'@~/target-snowflake/{sync_id}'") + r"(\(file_format => [^)]*\))?"
    return re.sub(stage, _staging_table(self, sync_id), statement).replace("$1:", "line:")


def merge_from_stage(
    self: SnowflakeConnector,
    *,
    full_table_name: str,
    schema: dict[str, Any],
    sync_id: str,
    file_format: str,
    key_properties: Sequence[str],
) -> int:
    """The target's MERGE from the staging table; the last record per key, as its QUALIFY."""
    merge, _ = self._get_merge_from_stage_statement(
        full_table_name, schema, sync_id, file_format, key_properties
    )
    table = _staging_table(self, sync_id)
    keys = ", ".join(f"line:{self.formatter.format_collation(k)}" for k in key_properties)
    last = f"where rowid in (select max(rowid) from {table} group by {keys})"  # noqa: S608
    sql = re.sub(r"QUALIFY ROW_NUMBER\(\) OVER \(.*?\) = 1", last, merge.text, count=1)
    with self._connect() as conn, conn.begin():
        return int(sum(conn.execute(text(_from_staging_table(self, sql, sync_id))).one()))


def copy_from_stage(
    self: SnowflakeConnector,
    *,
    full_table_name: str,
    schema: dict[str, Any],
    sync_id: str,
    file_format: str,
) -> int:
    """The target's COPY INTO … FROM (SELECT …), as INSERT INTO … SELECT from the staging table."""
    copy, _ = self._get_copy_statement(full_table_name, schema, sync_id, file_format)
    sql = re.sub(r"^copy into (.*?) from \((select .*)\)file_format = .*$", r"insert into \1 \2",
                 copy.text, flags=re.DOTALL)  # fmt: skip
    with self._connect() as conn, conn.begin():
        return int(conn.execute(text(_from_staging_table(self, sql, sync_id))).rowcount)


def remove_staged_files(self: SnowflakeConnector, sync_id: str) -> None:
    """REMOVE: drop the staging table (fakesnow keeps its stage in TMPDIR)."""
    with self._connect() as conn, conn.begin():
        conn.execute(text(f"drop table if exists {_staging_table(self, sync_id)}"))


# target-snowflake lives in the launcher's own venv, not the project's: to mypy it is Any.
class FakesnowTarget(TargetSnowflake):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1


def main() -> None:
    SnowflakeConnector.put_batches_to_stage = put_batches_to_stage
    SnowflakeConnector.merge_from_stage = merge_from_stage
    SnowflakeConnector.copy_from_stage = copy_from_stage
    SnowflakeConnector.remove_staged_files = remove_staged_files
    with fakesnow.patch(db_path=os.environ["FAKESNOW_DB_PATH"], nop_regexes=["^drop file format"]):
        FakesnowTarget.cli()
