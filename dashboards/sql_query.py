"""A PostgreSQL panel target for grafana-foundation-sdk, which has no typed SQL query.

`SqlQuery` serialises to what Grafana's `grafana-postgresql-datasource` stores for a
query written in code mode (`rawSql`, `format`, `rawQuery`, `editorMode`). Pure data:
no database access; the tests execute `raw_sql` after `macros.expand`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

DATASOURCE_TYPE = "grafana-postgresql-datasource"
# Must equal the uid in dashboards/provisioning/datasources/hubsense.yaml.
DATASOURCE_UID = "hubsense-pg"


def datasource() -> DataSourceRef:
    """The provisioned hubsense PostgreSQL datasource."""
    return DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


class Format(StrEnum):
    TIME_SERIES = "time_series"
    TABLE = "table"


class SqlQuery(cogvariants.Dataquery):
    """One SQL target of a panel, as Grafana's PostgreSQL datasource stores it."""

    def __init__(self, raw_sql: str, ref_id: str = "A", fmt: Format = Format.TABLE) -> None:
        self.raw_sql = raw_sql
        self.ref_id = ref_id
        self.format = fmt

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": datasource().to_json(),
            "editorMode": "code",
            "format": str(self.format),
            "rawQuery": True,
            "rawSql": self.raw_sql,
        }


class Sql(cogbuilder.Builder[SqlQuery]):
    """Builder in the SDK's style: `Sql("SELECT …").format(Format.TIME_SERIES)`."""

    def __init__(self, raw_sql: str) -> None:
        self._internal = SqlQuery(raw_sql)

    def build(self) -> SqlQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def format(self, fmt: Format) -> Self:
        self._internal.format = fmt
        return self
