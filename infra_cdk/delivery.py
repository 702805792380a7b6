"""Firehose: JSON records from the collector → Parquet in S3, partitioned by site_id and dt."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.catalog import Catalog
from infra_cdk.common import log_group
from infra_cdk.settings import DeploySettings
from infra_cdk.storage import ERRORS_PREFIX, EVENTS_PREFIX

# Firehose requires at least 64 MiB of buffer when dynamic partitioning is on.
BUFFER_MIB = 64
PARTITION_QUERY = "{site_id: .site_id, dt: .dt}"
EVENTS_S3_PREFIX = (
    f"{EVENTS_PREFIX}site_id=!{{partitionKeyFromQuery:site_id}}/dt=!{{partitionKeyFromQuery:dt}}/"
)
# Failed records are already anonymised rows (no IP, no User-Agent): safe to keep for replay.
ERRORS_S3_PREFIX = f"{ERRORS_PREFIX}!{{firehose:error-output-type}}/!{{timestamp:yyyy-MM-dd}}/"
FIREHOSE_BUCKET_ACTIONS = (
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
)
FIREHOSE_OBJECT_ACTIONS = ("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload")


class Delivery(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        bucket: s3.IBucket,
        catalog: Catalog,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = log_group(self, "Logs", settings.log_retention_days)
        log_stream = logs.LogStream(self, "S3Delivery", log_group=self.log_group)
        self.role = role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com")
        )
        # What Firehose's S3 destination needs, and no more: it cannot delete objects, set
        # legal holds, retention or tags (AWS's documented policy for an S3 destination).
        role.add_to_policy(
            iam.PolicyStatement(
                actions=list(FIREHOSE_BUCKET_ACTIONS), resources=[bucket.bucket_arn]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=list(FIREHOSE_OBJECT_ACTIONS), resources=[bucket.arn_for_objects("*")]
            )
        )
        self.log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                resources=[catalog.catalog_arn, catalog.database_arn, catalog.table_arn],
            )
        )
        self.stream = firehose.CfnDeliveryStream(
            self,
            "Stream",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=EVENTS_S3_PREFIX,
                error_output_prefix=ERRORS_S3_PREFIX,
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=settings.firehose_buffer_seconds, size_in_m_bs=BUFFER_MIB
                ),
                compression_format="UNCOMPRESSED",  # Parquet compresses itself (Snappy)
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=self.log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True,
                    retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(
                        duration_in_seconds=300
                    ),
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        firehose.CfnDeliveryStream.ProcessorProperty(
                            type="MetadataExtraction",
                            parameters=[
                                _param("MetadataExtractionQuery", PARTITION_QUERY),
                                _param("JsonParsingEngine", "JQ-1.6"),
                            ],
                        )
                    ],
                ),
                data_format_conversion_configuration=firehose.CfnDeliveryStream.DataFormatConversionConfigurationProperty(
                    enabled=True,
                    input_format_configuration=firehose.CfnDeliveryStream.InputFormatConfigurationProperty(
                        deserializer=firehose.CfnDeliveryStream.DeserializerProperty(
                            hive_json_ser_de=firehose.CfnDeliveryStream.HiveJsonSerDeProperty()
                        )
                    ),
                    output_format_configuration=firehose.CfnDeliveryStream.OutputFormatConfigurationProperty(
                        serializer=firehose.CfnDeliveryStream.SerializerProperty(
                            parquet_ser_de=firehose.CfnDeliveryStream.ParquetSerDeProperty(
                                compression="SNAPPY"
                            )
                        )
                    ),
                    schema_configuration=firehose.CfnDeliveryStream.SchemaConfigurationProperty(
                        catalog_id=Aws.ACCOUNT_ID,
                        database_name=catalog.database_name,
                        table_name=catalog.table_name,
                        region=Aws.REGION,
                        role_arn=role.role_arn,
                        version_id="LATEST",
                    ),
                ),
            ),
        )
        # The role's policy must exist before Firehose validates the destination.
        self.stream.node.add_dependency(role.node.find_child("DefaultPolicy"))
        self.stream.node.add_dependency(catalog.table)
        self.stream_arn = self.stream.attr_arn
        self.stream_name = self.stream.ref


def _param(name: str, value: str) -> firehose.CfnDeliveryStream.ProcessorParameterProperty:
    return firehose.CfnDeliveryStream.ProcessorParameterProperty(
        parameter_name=name, parameter_value=value
    )
