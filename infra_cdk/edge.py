"""CloudFront in front of everything: the tracker script from S3 (long-cached, CORS `*`),
beacons (/api/event, /e.gif) forwarded uncached to the collector's function URL, and the
stats API (/api/*, /health) to the HTTP API, both with the viewer's country and address."""

from __future__ import annotations

from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra_cdk.api import HEALTH_PATH, INGEST_PATHS
from infra_cdk.layers import ROOT

TRACKER_PATH = "tracker.js"
TRACKER_SOURCE = ROOT / "tracker_js" / "dist" / "tracker.min.js"
# The optional click-tracking module, served next to the tracker the same way.
CLICKS_PATH = "clicks.js"
CLICKS_SOURCE = ROOT / "tracker_js" / "dist" / "clicks.min.js"
TRACKER_CACHE_CONTROL = "public, max-age=86400, stale-while-revalidate=604800"


def _uncached(origin: cloudfront.IOrigin) -> cloudfront.BehaviorOptions:
    return cloudfront.BehaviorOptions(
        origin=origin,
        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
        cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
        # Every viewer header but Host (API Gateway and function URLs route on their own host
        # name), plus CloudFront's: CloudFront-Viewer-Country (the country, no GeoIP database)
        # and CloudFront-Viewer-Address (the client address for the daily visitor hash).
        origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
    )


class Edge(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        api_endpoint: str,
        ingest_url: lambda_.IFunctionUrl,
        tracker_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, id)
        to_api = _uncached(
            origins.HttpOrigin(
                api_endpoint, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY
            )
        )
        # No origin access control: it would need each POST signed with its body's SHA-256,
        # which sendBeacon cannot send (infra_cdk.api).
        to_collector = _uncached(origins.FunctionUrlOrigin(ingest_url))
        # CloudFront tries the behaviours in this order: /api/event before /api/*.
        behaviors = {path: to_collector for path in INGEST_PATHS}
        behaviors |= {"/api/*": to_api, HEALTH_PATH: to_api}
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Beaconlake: tracker script, ingest and stats API",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(tracker_bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.CORS_ALLOW_ALL_ORIGINS_AND_SECURITY_HEADERS,
                compress=True,
            ),
            additional_behaviors=behaviors,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        )
        self.domain = self.distribution.distribution_domain_name
        s3deploy.BucketDeployment(
            self,
            "Tracker",
            sources=[
                s3deploy.Source.data(path, source.read_text("utf-8"))
                for path, source in ((TRACKER_PATH, TRACKER_SOURCE), (CLICKS_PATH, CLICKS_SOURCE))
            ],
            destination_bucket=tracker_bucket,
            content_type="text/javascript; charset=utf-8",
            cache_control=[s3deploy.CacheControl.from_string(TRACKER_CACHE_CONTROL)],
            distribution=self.distribution,
            distribution_paths=[f"/{TRACKER_PATH}", f"/{CLICKS_PATH}"],
            memory_limit=256,
            prune=False,
        )
