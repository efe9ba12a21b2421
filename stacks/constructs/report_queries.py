"""Glue Data Catalog table and Athena workgroup over the S3 metric reports, with saved queries.

For reports that outgrow one machine: the same SQL `report` runs on DuckDB (stacks/report_sql.py)
runs on Athena over this table, from `report --athena` or the Athena console.

* Table: the CSV files the metric attribution writes under ``metric-reports/<group>/``
  (stacks/constructs/metric_attribution.py), header skipped, columns from ``REPORT_COLUMNS``. The group
  folder is a partition column filled by partition projection (an enum of the groups that
  publish to S3): no crawler, no ``MSCK REPAIR``, and a query on one group reads one folder.
* Saved queries: `named_queries` with every recommender's and campaign's ARN aliased to its
  configured source (the ARN form Personalize records for events with only a recommendationId).
* Workgroup: results under ``athena-results/`` in the data bucket, encrypted (SSE-S3, or SSE-KMS
  with the config's ``encryption.kmsKeyArn``), settings enforced so no client can send results
  elsewhere or unencrypted. Athena reads and writes S3 with the caller's own credentials and
  over TLS, so the data bucket's policy (TLS only, Personalize's own grants) needs nothing
  added: the caller's IAM policy needs the usual Athena, Glue and S3 permissions.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Fn, Token
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambdas.personalize_resources.address_book import REPORT_PARAMETER_LEAVES, report_parameter
from config import AppConfig, DatasetGroup
from stacks.constructs.operator_widgets import serving_endpoints
from stacks.report_sql import REPORT_COLUMNS, named_queries

RESULTS_PREFIX = "athena-results/"
TABLE_NAME = "metric_reports"
PARTITION_COLUMN = "dataset_group"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"  # handles quoted and unquoted fields alike


def athena_name(name: str) -> str:
    """Glue/Athena names: lower-case letters, digits and underscores (no '-'), also for a
    deploy-time NamePrefix parameter."""
    if Token.is_unresolved(name):
        return Fn.join("_", Fn.split("-", name))
    return name.replace("-", "_")


def database_name(config: AppConfig) -> str:
    return f"{athena_name(config.name)}_reports"


def workgroup_name(config: AppConfig) -> str:
    return f"{config.name}-reports"


def results_encryption(config: AppConfig) -> tuple[str, str | None]:
    """(EncryptionOption, KmsKey) of the query results.

    The config's own key when it names one. A key the storage stack creates is not known to this
    stack (no cross-stack reference, by design), so results then use SSE-S3, still encrypted.
    """
    if config.encryption.mode == "KMS" and config.encryption.kms_key_arn:
        return "SSE_KMS", config.encryption.kms_key_arn
    return "SSE_S3", None


def reporting_groups(config: AppConfig) -> list[DatasetGroup]:
    """Groups whose metric attribution writes report files to S3: the table's partitions."""
    return [g for g in config.dataset_groups if g.metric_attribution is not None and g.metric_attribution.s3_output]


class ReportQueries(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, bucket_name: str, report_prefix: str) -> None:
        super().__init__(scope, construct_id)
        groups = reporting_groups(config)
        assert groups, "only built when a dataset group writes reports to S3"
        reports = f"s3://{bucket_name}/{report_prefix}"

        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=database_name(config),
                description=f"{config.name}: Amazon Personalize metric attribution reports",
            ),
        )
        self.table = self._table(config, groups, reports)
        self.table.add_resource_dependency(self.database)
        self.workgroup = self._workgroup(config, bucket_name)
        self.queries = self._queries(config)
        self._outputs(config)

    def _table(self, config: AppConfig, groups: list[DatasetGroup], reports: str) -> glue.CfnTable:
        """The external table over the report CSVs, partitioned by dataset group folder (projected)."""
        return glue.CfnTable(
            self,
            "Table",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=database_name(config),
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE_NAME,
                description="Metric attribution report CSVs, one 15-minute bucket per row",
                table_type="EXTERNAL_TABLE",
                partition_keys=[glue.CfnTable.ColumnProperty(name=PARTITION_COLUMN, type="string", comment="dataset group folder")],
                parameters={
                    "classification": "csv",
                    "skip.header.line.count": "1",
                    "projection.enabled": "true",
                    f"projection.{PARTITION_COLUMN}.type": "enum",
                    f"projection.{PARTITION_COLUMN}.values": ",".join(g.name for g in groups),
                    # Fn::Sub's ${!x} is a literal ${x}: Athena fills it with the partition value.
                    "storage.location.template": Fn.sub(f"${{Reports}}${{!{PARTITION_COLUMN}}}/", {"Reports": reports}),
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name=name, type=type_) for name, type_ in REPORT_COLUMNS],
                    location=reports,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=OPEN_CSV_SERDE,
                        parameters={"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"},
                    ),
                ),
            ),
        )

    def _workgroup(self, config: AppConfig, bucket_name: str) -> athena.CfnWorkGroup:
        option, key = results_encryption(config)
        encryption = athena.CfnWorkGroup.EncryptionConfigurationProperty(encryption_option=option, kms_key=key)
        return athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=workgroup_name(config),
            description=f"{config.name}: queries over the Personalize metric reports (settings enforced)",
            state="ENABLED",
            recursive_delete_option=True,  # saved queries someone added by hand must not block removing the stack
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{bucket_name}/{RESULTS_PREFIX}",
                    expected_bucket_owner=Aws.ACCOUNT_ID,
                    encryption_configuration=encryption,
                ),
            ),
        )

    def _queries(self, config: AppConfig) -> dict[str, athena.CfnNamedQuery]:
        queries: dict[str, athena.CfnNamedQuery] = {}
        # Rows whose source is a recommender's or campaign's ARN (events with only a
        # recommendationId) are counted with the source the config names for it, as `report` does.
        aliases = {endpoint.arn: endpoint.source_name for group in config.dataset_groups for endpoint in serving_endpoints(self, config, group)}
        for name, sql in named_queries(TABLE_NAME, source_aliases=aliases).items():
            query = athena.CfnNamedQuery(
                self,
                f"Query-{name}",
                name=name,
                database=database_name(config),
                work_group=self.workgroup.ref,
                query_string=sql,
                description=f"personalize-impact report query '{name}' over {TABLE_NAME} (stacks/report_sql.py)",
            )
            query.add_resource_dependency(self.table)
            queries[name] = query
        return queries

    def _outputs(self, config: AppConfig) -> None:
        """Where `report --athena` finds the workgroup, database and table: outputs and SSM parameters."""
        for key, option, value, what in (
            ("AthenaWorkGroup", "workgroup", self.workgroup.ref, "Athena workgroup for report queries"),
            ("GlueDatabase", "database", database_name(config), "Glue database of the metric reports table"),
            ("GlueTable", "table", TABLE_NAME, "Glue table over the S3 metric reports"),
        ):
            CfnOutput(self, key, value=value, description=f"{what} (report --athena)")
            ssm.StringParameter(
                self,
                f"{key}Parameter",
                parameter_name=report_parameter(config.name, REPORT_PARAMETER_LEAVES[option]),
                simple_name=False,  # a path; the environment name may be a deploy-time parameter
                string_value=value,
                description=f"{what}, for report --athena",
            )
