"""Glue database, the `events` table (columns from beaconlake.schema), the daily job's
`session_rollup` and `page_rollup` tables (columns from beaconlake.stats.rollup_job) and the
imported tables (columns from beaconlake.stats.sql.imported), all with partition projection;
the Athena workgroup, and named queries for the Athena console."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from beaconlake.adapters.aws_days import ROLLUPS_PREFIX
from beaconlake.imports.plausible import IMPORTED_DIR
from beaconlake.schema import glue_columns, glue_partition_keys
from beaconlake.stats.rollup_job import rollup_columns
from beaconlake.stats.sql.imported import TABLES as IMPORTED_TABLES
from beaconlake.stats.sql.imported import ImportedTable
from infra_cdk.settings import DeploySettings
from infra_cdk.storage import EVENTS_PREFIX

TABLE = "events"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
# The first day partition projection enumerates; queries always name their days, so a wide
# range costs nothing, and older backfills stay queryable.
PROJECTION_START = "2020-01-01"
LAST_30_DAYS = "dt >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')"


def partition_projection(bucket_name: str, prefix: str = EVENTS_PREFIX) -> dict[str, str]:
    """Glue table parameters: partitions are computed, never crawled or added (no MSCK).
    `site_id` is injected: Athena reads the sites a query names in a static equality (the
    AWS engine writes the site id into each statement: adapters/aws_site_literals.py), so a
    site added to the catalogue is queryable at once, with no change to the table (the
    `sites` deploy setting only seeds the catalogue)."""
    return {
        "projection.enabled": "true",
        "projection.site_id.type": "injected",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": f"{PROJECTION_START},NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "storage.location.template": (
            f"s3://{bucket_name}/{prefix}site_id=${{site_id}}/dt=${{dt}}/"
        ),
    }


def named_queries(site: str) -> dict[str, tuple[str, str]]:
    """Name → (description, Athena SQL) for the console; `site` is a placeholder to edit."""
    where = f"site_id = '{site}' AND {LAST_30_DAYS}"
    return {
        "top-pages": (
            "Top pages of the last 30 days (edit the site_id)",
            f"SELECT pathname, count(*) AS pageviews, count(DISTINCT visitor_id) AS visitors\n"
            f"FROM {TABLE}\nWHERE {where} AND name = 'pageview'\n"
            "GROUP BY pathname\nORDER BY pageviews DESC\nLIMIT 50",
        ),
        "sources": (
            "Where visitors came from in the last 30 days",
            "SELECT coalesce(referrer_source, 'Direct / None') AS source,\n"
            "       count(DISTINCT visitor_id) AS visitors, count(*) AS events\n"
            f"FROM {TABLE}\nWHERE {where}\n"
            "GROUP BY 1\nORDER BY visitors DESC\nLIMIT 50",
        ),
        "daily-visitors": (
            "Visitors and pageviews per day, last 30 days (hashes change daily, so per day)",
            "SELECT dt, count(DISTINCT visitor_id) AS visitors,\n"
            "       count_if(name = 'pageview') AS pageviews\n"
            f"FROM {TABLE}\nWHERE {where}\nGROUP BY dt\nORDER BY dt",
        ),
        "funnel-template": (
            "A three-step funnel per visitor and day: edit the step conditions",
            "WITH steps AS (\n"
            "  SELECT visitor_id, dt,\n"
            "    min(CASE WHEN name = 'pageview' AND pathname = '/' THEN ts END) AS step1,\n"
            "    min(CASE WHEN name = 'pageview' AND pathname = '/pricing' THEN ts END) AS step2,\n"
            "    min(CASE WHEN name = 'Signup' THEN ts END) AS step3\n"
            f"  FROM {TABLE}\n  WHERE {where}\n  GROUP BY visitor_id, dt\n)\n"
            "SELECT count(step1) AS reached_step1,\n"
            "       count_if(step2 > step1) AS reached_step2,\n"
            "       count_if(step2 > step1 AND step3 > step2) AS reached_step3\n"
            "FROM steps",
        ),
        "create-sessions-view": (
            "Run once: creates the `sessions` view (visits: gaps under 30 minutes)",
            SESSIONS_VIEW,
        ),
        "sessions-summary": (
            "Visits, bounce rate and mean visit duration per day (needs the sessions view)",
            "SELECT dt, count(*) AS visits,\n"
            "       round(100.0 * count_if(bounced) / count(*), 1) AS bounce_rate,\n"
            "       round(avg(duration_s)) AS visit_duration_s\n"
            f"FROM sessions\nWHERE {where}\nGROUP BY dt\nORDER BY dt",
        ),
    }


# Visitor hashes change at midnight UTC, so a visit never spans two days and partitioning the
# windows by dt costs nothing; it lets `WHERE dt ...` on the view prune partitions.
SESSIONS_VIEW = f"""CREATE OR REPLACE VIEW sessions AS
WITH marked AS (
  SELECT site_id, dt, visitor_id, ts, name, pathname, referrer_source, interactive,
    CASE WHEN ts <= lag(ts) OVER (PARTITION BY site_id, dt, visitor_id ORDER BY ts)
      + INTERVAL '30' MINUTE THEN 0 ELSE 1 END AS starts_visit
  FROM {TABLE}
), numbered AS (
  SELECT *, sum(starts_visit) OVER (
    PARTITION BY site_id, dt, visitor_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS visit_no
  FROM marked
)
SELECT site_id, dt, visitor_id, visit_no,
  min(ts) AS started, max(ts) AS ended, date_diff('second', min(ts), max(ts)) AS duration_s,
  min_by(pathname, ts) AS entry_page,
  max_by(pathname, CASE WHEN name = 'pageview' THEN ts END) AS exit_page,
  min_by(referrer_source, ts) AS source,
  count_if(name = 'pageview') AS pageviews,
  count_if(name = 'pageview') = 1
    AND count_if(name NOT IN ('pageview', 'engagement') AND interactive) = 0 AS bounced
FROM numbered
GROUP BY site_id, dt, visitor_id, visit_no"""


class Catalog(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        events: s3.IBucket,
        results: s3.IBucket,
    ) -> None:
        super().__init__(scope, id)
        self.database_name = settings.stack_name.lower().replace("-", "_")
        self.table_name = TABLE
        self.workgroup_name = settings.stack_name.lower()
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="Beaconlake analytics events"
            ),
        )
        self.table = self._parquet_table(
            "EventsTable",
            TABLE,
            "One row per accepted event (see layers/beaconlake/schema.py)",
            [glue.CfnTable.ColumnProperty(**c) for c in glue_columns()],
            events.bucket_name,
            EVENTS_PREFIX,
            settings,
            database,
        )
        self.table_arn = self._table_arn(TABLE)
        self.rollup_tables = [
            self._rollup_table(name, columns, events.bucket_name, settings, database)
            for name, columns in rollup_columns().items()
        ]
        self.imported_tables = [
            self._imported_table(t, events.bucket_name, database) for t in IMPORTED_TABLES
        ]
        # every table a statement may read: events, the daily job's rollups, imported data
        self.table_arns = [
            self.table_arn,
            *(self._table_arn(n) for n in rollup_columns()),
            *(self._table_arn(t.name) for t in IMPORTED_TABLES),
        ]
        self.database_arn = (
            f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:database/{self.database_name}"
        )
        self.catalog_arn = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:catalog"

        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=self.workgroup_name,
            description="Beaconlake: the stats API and ad-hoc queries",
            recursive_delete_option=True,
            state="ENABLED",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                bytes_scanned_cutoff_per_query=settings.bytes_scanned_cutoff_mb * 1_000_000,
                publish_cloud_watch_metrics_enabled=True,
                requester_pays_enabled=False,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{results.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        for name, (description, sql) in named_queries(settings.sites[0]).items():
            query = athena.CfnNamedQuery(
                self,
                f"Query-{name}",
                name=f"beaconlake: {name}",
                description=description,
                database=self.database_name,
                query_string=sql,
                work_group=self.workgroup_name,
            )
            query.node.add_dependency(self.workgroup)
            query.node.add_dependency(database)
        self.workgroup_arn = (
            f"arn:{Aws.PARTITION}:athena:{Aws.REGION}:{Aws.ACCOUNT_ID}:workgroup/"
            f"{self.workgroup_name}"
        )

    def _table_arn(self, name: str) -> str:
        return (
            f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:table/"
            f"{self.database_name}/{name}"
        )

    def _rollup_table(
        self,
        name: str,
        columns: list[tuple[str, str]],
        bucket_name: str,
        settings: DeploySettings,
        database: glue.CfnDatabase,
    ) -> glue.CfnTable:
        """A rollup table of the daily job: Parquet it UNLOADs, one prefix per site and day."""
        return self._parquet_table(
            "".join(part.title() for part in name.split("_")) + "Table",
            name,
            "Written by the daily job per site and past day (layers/beaconlake/stats/rollup_job.py)",
            [glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in columns],
            bucket_name,
            f"{ROLLUPS_PREFIX}{name}/",
            settings,
            database,
        )

    def _imported_table(
        self, table: ImportedTable, bucket_name: str, database: glue.CfnDatabase
    ) -> glue.CfnTable:
        """An imported table (docs/IMPORT.md): the import CLI's Parquet files, one or more per
        site under `imported/<table>/site_id=<site>/`; the day is the `dt` column, so the only
        partition key is the site, projected `injected` like the events'."""
        prefix = f"{IMPORTED_DIR}/{table.name}/"
        glue_type = {"varchar": "string", "bigint": "bigint"}
        cfn = glue.CfnTable(
            self,
            "".join(part.title() for part in table.name.split("_")) + "Table",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=table.name,
                description="Imported from Plausible by `beaconlake import` (docs/IMPORT.md)",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "parquet",
                    "EXTERNAL": "TRUE",
                    "projection.enabled": "true",
                    "projection.site_id.type": "injected",
                    "storage.location.template": (
                        f"s3://{bucket_name}/{prefix}site_id=${{site_id}}/"
                    ),
                },
                partition_keys=[glue.CfnTable.ColumnProperty(name="site_id", type="string")],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[
                        glue.CfnTable.ColumnProperty(name=n, type=glue_type[t])
                        for n, t in table.stored
                    ],
                    location=f"s3://{bucket_name}/{prefix}",
                    input_format=PARQUET_INPUT,
                    output_format=PARQUET_OUTPUT,
                    compressed=False,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=PARQUET_SERDE,
                        parameters={"serialization.format": "1"},
                    ),
                ),
            ),
        )
        cfn.node.add_dependency(database)
        return cfn

    def _parquet_table(
        self,
        id: str,
        name: str,
        description: str,
        columns: list[glue.CfnTable.ColumnProperty],
        bucket_name: str,
        prefix: str,
        settings: DeploySettings,
        database: glue.CfnDatabase,
    ) -> glue.CfnTable:
        """A Glue table of Parquet files under `prefix`, partitioned by site and day, whose
        partitions are projected (never crawled or added)."""
        table = glue.CfnTable(
            self,
            id,
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=name,
                description=description,
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "parquet",
                    "EXTERNAL": "TRUE",
                    **partition_projection(bucket_name, prefix),
                },
                partition_keys=[glue.CfnTable.ColumnProperty(**c) for c in glue_partition_keys()],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=columns,
                    location=f"s3://{bucket_name}/{prefix}",
                    input_format=PARQUET_INPUT,
                    output_format=PARQUET_OUTPUT,
                    compressed=False,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=PARQUET_SERDE,
                        parameters={"serialization.format": "1"},
                    ),
                ),
            ),
        )
        table.node.add_dependency(database)
        return table
