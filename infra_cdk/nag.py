"""cdk-nag (AwsSolutions) acknowledgements, each with the reason it is safe here.

cdk-nag v3 reports every wildcard separately (`AwsSolutions-IAM5[Action::s3:List*]`), so
acknowledgements are made per finding and per construct, never for the whole stack.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

BASIC_ROLE = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
S3_GRANT_ACTIONS = ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*")

WHY_BASIC_ROLE = (
    "AWSLambdaBasicExecutionRole grants only logs:CreateLogGroup, logs:CreateLogStream and "
    "logs:PutLogEvents, the minimum any function needs to write its own logs."
)
WHY_S3_ACTIONS = (
    "These are CDK's grantRead/grantReadWrite action groups, and the statement is scoped to one "
    "bucket and its objects: Athena lists and reads partitions and writes its result files, "
    "and the daily job replaces a day's small files by one and rewrites its rollups."
)
WHY_OBJECTS = (
    "Object keys are created at run time (site_id=/dt= partitions, rollups, Athena result "
    "files), so the grant covers the objects of this single bucket and nothing else."
)
WHY_XRAY = (
    "xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level "
    "permissions, so active tracing needs Resource '*'."
)
WHY_PARAMETERS = (
    "SSM parameters under this stack's own path: one salt per UTC day (created and deleted "
    "daily) or one user-id secret per site, whose names are known only at run time."
)
WHY_APP_AUTH = (
    "The stats API authorises in the application: Bearer API keys stored only as hashes in "
    "DynamoDB and scoped to sites, or a dashboard session; an API Gateway authorizer would "
    "duplicate that check and add latency."
)
WHY_NO_GEO_RESTRICTION = (
    "Analytics must accept beacons from every country; a geographic restriction would "
    "silently drop real visitors."
)
WHY_NO_WAF = (
    "AWS WAF costs at least $5 a month plus request fees, more than the rest of this stack at "
    "small scale; abuse is bounded by API Gateway throttling and the collector's validation. "
    "docs/DEPLOY.md shows how to attach a web ACL."
)
WHY_NO_CLOUDFRONT_LOGS = (
    "CloudFront access logs record every viewer's IP address and User-Agent, which Beaconlake's "
    "privacy rules forbid writing anywhere; request counts come from CloudWatch metrics and "
    "API Gateway's access log, whose format leaves both out."
)
WHY_DEFAULT_CERTIFICATE = (
    "The distribution serves its *.cloudfront.net name with CloudFront's default certificate, "
    "whose security policy CloudFront fixes itself; a custom domain with an ACM certificate "
    "and TLSv1.2_2021 is a documented follow-up (docs/DEPLOY.md)."
)
WHY_RUNTIME = (
    "Python 3.13, supported by Lambda until 2029, one release behind the latest: the layers "
    "carry bytecode compiled by an interpreter of the runtime's own version, which our build "
    "machines have for 3.13 and not for 3.14, and without it every cold start compiles each "
    "module again (about twice as slow, docs/BENCHMARKS.md figure 2)."
)
WHY_FUNCTION_VERSIONS = (
    "CDK's grantInvoke covers the one function and its versions (`<function ARN>:*`): the "
    "scheduler may invoke the salt rotation function and nothing else."
)
WHY_DEPLOYMENT_HANDLER = (
    "CDK's own BucketDeployment handler, which runs only during deploys to copy the tracker "
    "script; its runtime, managed policy and S3/CloudFront grants are set by aws-cdk-lib."
)


def ack(scope: IConstruct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(
        Acknowledgment(id=f"AwsSolutions::AwsSolutions-{rule}", reason=reason)
    )


def logical(stack: Stack, resource: IConstruct) -> str:
    return str(stack.resolve(stack.get_logical_id(resource.node.default_child)))  # type: ignore[arg-type]


def acknowledge_role(
    stack: Stack,
    scope: IConstruct,
    *,
    basic_role: bool = False,
    xray: bool = False,
    buckets: tuple[s3.IBucket, ...] = (),
    object_buckets: tuple[s3.IBucket, ...] = (),
    ssm_paths: tuple[str, ...] = (),
) -> None:
    """Acknowledge a role's expected findings: `buckets` were granted with CDK's grant
    methods (wildcard action groups, all objects), `object_buckets` with explicit actions on
    all their objects."""
    if basic_role:
        ack(scope, f"IAM4[{BASIC_ROLE}]", WHY_BASIC_ROLE)
    if xray:
        ack(scope, "IAM5[Resource::*]", WHY_XRAY)
    if buckets:
        for action in S3_GRANT_ACTIONS:
            ack(scope, f"IAM5[Action::{action}]", WHY_S3_ACTIONS)
    for bucket in (*buckets, *object_buckets):
        ack(scope, f"IAM5[Resource::<{logical(stack, bucket)}.Arn>/*]", WHY_OBJECTS)
    for path in ssm_paths:
        resource = f"arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter{path}/*"
        ack(scope, f"IAM5[Resource::{resource}]", WHY_PARAMETERS)
