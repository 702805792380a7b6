"""The synthesized CloudFormation template, provisioned into moto.

Names and settings come from the template, never from constants here: the S3 buckets, the
DynamoDB tables, the Glue database and table, the Athena workgroup and the Firehose stream are
created from their resources' properties, and the Lambda functions' environment is the
template's. Only the intrinsic functions the template uses are resolved; any other one fails
loudly, so a template change that this box cannot follow is noticed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"


class UnsupportedTemplate(AssertionError):
    """The template uses something this box does not model."""


@dataclass
class Stack:
    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v["Properties"] for k, v in self.resources.items() if v["Type"] == kind}

    def one(self, kind: str) -> tuple[str, dict[str, Any]]:
        (item,) = self.of_type(kind).items()
        return item

    # ---- names ------------------------------------------------------------------------------

    def physical_name(self, logical_id: str) -> str:
        """The name a resource gets when deployed: its explicit name property, else (as
        CloudFormation does, but deterministic here) one derived from its logical id."""
        resource = self.resources[logical_id]
        props = resource.get("Properties", {})
        explicit = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
            "AWS::Athena::WorkGroup": "Name",
            "AWS::IAM::Role": "RoleName",
            "AWS::Logs::LogGroup": "LogGroupName",
        }.get(resource["Type"])
        if explicit and explicit in props:
            return str(self.resolve(props[explicit]))
        return f"box-{logical_id.lower()}"

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{name}"
        if kind == "AWS::KinesisFirehose::DeliveryStream":
            return f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{name}"
        if kind == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        raise UnsupportedTemplate(f"no ARN for {kind} ({logical_id})")

    def resolve(self, value: Any) -> Any:
        """The value with Ref, Fn::GetAtt (Arn) and Fn::Join replaced."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                pseudo = {
                    "AWS::AccountId": ACCOUNT,
                    "AWS::Region": REGION,
                    "AWS::Partition": "aws",
                    "AWS::URLSuffix": "amazonaws.com",
                }
                return pseudo[arg] if arg in pseudo else self.physical_name(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg
                if attribute != "Arn":
                    raise UnsupportedTemplate(f"Fn::GetAtt {logical_id}.{attribute}")
                return self.arn(logical_id)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(p)) for p in parts)
            if key.startswith("Fn::"):
                raise UnsupportedTemplate(f"intrinsic function {key}")
        return {k: self.resolve(v) for k, v in value.items()}

    # ---- the parts the box models -----------------------------------------------------------

    def lambda_environment(self, service_name: str) -> dict[str, str]:
        """The environment of the function whose POWERTOOLS_SERVICE_NAME is `service_name`."""
        for props in self.of_type("AWS::Lambda::Function").values():
            variables = props.get("Environment", {}).get("Variables", {})
            if variables.get("POWERTOOLS_SERVICE_NAME") == service_name:
                return {k: str(self.resolve(v)) for k, v in variables.items()}
        raise UnsupportedTemplate(f"no function with service name {service_name}")

    def delivery_stream(self) -> tuple[str, dict[str, Any]]:
        """(stream name, its ExtendedS3DestinationConfiguration, resolved)."""
        logical_id, props = self.one("AWS::KinesisFirehose::DeliveryStream")
        config = self.resolve(props["ExtendedS3DestinationConfiguration"])
        return self.physical_name(logical_id), config

    def workgroup(self) -> tuple[str, dict[str, Any]]:
        _, props = self.one("AWS::Athena::WorkGroup")
        return props["Name"], self.resolve(props["WorkGroupConfiguration"])

    def glue_tables(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for props in self.of_type("AWS::Glue::Table").values():
            yield props["DatabaseName"], self.resolve(props["TableInput"])

    def provision(self) -> None:
        """Create the template's data-plane resources in moto (inside mock_aws)."""
        s3 = boto3.client("s3", region_name=REGION)
        for logical_id in self.of_type("AWS::S3::Bucket"):
            s3.create_bucket(Bucket=self.physical_name(logical_id))
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for logical_id, props in self.of_type("AWS::DynamoDB::Table").items():
            dynamodb.create_table(
                TableName=self.physical_name(logical_id),
                KeySchema=props["KeySchema"],
                AttributeDefinitions=props["AttributeDefinitions"],
                BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            )
        glue = boto3.client("glue", region_name=REGION)
        for props in self.of_type("AWS::Glue::Database").values():
            glue.create_database(DatabaseInput=self.resolve(props["DatabaseInput"]))
        for database, table_input in self.glue_tables():
            glue.create_table(DatabaseName=database, TableInput=table_input)
        name, configuration = self.workgroup()
        boto3.client("athena", region_name=REGION).create_work_group(
            Name=name, Configuration=configuration
        )
        stream, destination = self.delivery_stream()
        _, props = self.one("AWS::KinesisFirehose::DeliveryStream")
        boto3.client("firehose", region_name=REGION).create_delivery_stream(
            DeliveryStreamName=stream,
            DeliveryStreamType=props.get("DeliveryStreamType", "DirectPut"),
            ExtendedS3DestinationConfiguration=destination,
        )
