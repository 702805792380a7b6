"""The one Beaconlake stack: storage, catalog, delivery, API (with the collector's function
URL and the daily job), edge, monitoring."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk import nag
from infra_cdk.api import Api
from infra_cdk.catalog import Catalog
from infra_cdk.delivery import Delivery
from infra_cdk.edge import TRACKER_PATH, Edge
from infra_cdk.monitoring import Monitoring
from infra_cdk.reports import Reports
from infra_cdk.settings import DeploySettings
from infra_cdk.storage import Storage


class BeaconlakeStack(Stack):
    def __init__(
        self, scope: Construct, id: str, *, settings: DeploySettings, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            id,
            description="Beaconlake: privacy-first, cookie-less web analytics",
            **kwargs,
        )
        storage = Storage(self, "Storage", settings=settings)
        catalog = Catalog(
            self,
            "Catalog",
            settings=settings,
            events=storage.events,
            results=storage.athena_results,
        )
        delivery = Delivery(
            self, "Delivery", settings=settings, bucket=storage.events, catalog=catalog
        )
        api = Api(
            self, "Api", settings=settings, storage=storage, catalog=catalog, delivery=delivery
        )
        Monitoring(
            self,
            "Monitoring",
            settings=settings,
            collect=api.collect,
            scheduled=(api.rotate_salt, api.rollups),
            functions=api.functions,
            stream_name=delivery.stream_name,
            api_id=api.http_api.api_id,
        )
        site = settings.sites[0]
        if storage.tracker is not None:
            edge = Edge(
                self,
                "Edge",
                api_endpoint=api.endpoint,
                ingest_url=api.ingest_url,
                tracker_bucket=storage.tracker,
            )
            base = ingest = f"https://{edge.domain}/"
            tracker = f"{base}{TRACKER_PATH}"
            snippet = f'<script defer data-domain="{site}" src="{tracker}"></script>'
            self._output("TrackerUrl", tracker)
            self._acknowledge_edge(edge, storage.tracker)
        else:
            # beacons straight to the collector's function URL (it ends in "/"), the stats
            # API to API Gateway; no country without CloudFront
            base, ingest = f"https://{api.endpoint}/", api.ingest_url.url
            snippet = (
                f'<script defer data-domain="{site}" data-api="{ingest}api/event" '
                'src="https://YOUR-HOST/tracker.js"></script> (host tracker_js/dist/tracker.min.js)'
            )
        self._output("TrackerSnippet", snippet)
        self._output("IngestUrl", f"{ingest}api/event")
        self._output("PixelUrl", f"{ingest}e.gif?d={site}&u=https://{site}/")
        self._output("StatsApiUrl", f"{base}api/v1/stats")
        self._output("DashboardUrl", f"{base}api/dashboard")
        self._output("AthenaWorkgroup", catalog.workgroup_name)
        self._output("AthenaDatabase", catalog.database_name)
        self._output("ApiKeysTable", storage.keys.table_name)
        self._output(
            "FirstApiKeyCommand",
            f"BEACONLAKE_BACKEND=aws AWS_DEFAULT_REGION={Aws.REGION} "
            f"BEACONLAKE_KEYS_TABLE={storage.keys.table_name} "
            f".venv/bin/beaconlake keys create --site {site}",
        )
        self._output("EventsBucket", storage.events.bucket_name)
        self._output(
            "AddSiteCommand",  # sites are added with no redeploy: docs/DEPLOY.md, Adding a site
            f"BEACONLAKE_BACKEND=aws AWS_DEFAULT_REGION={Aws.REGION} "
            f"BEACONLAKE_CATALOGUE_TABLE={storage.catalogue.table_name} "
            ".venv/bin/beaconlake sites add shop.example.net --timezone Europe/Berlin",
        )
        self._output(
            "EraseCommand",  # docs/PRIVACY.md; add --user-id ID to erase one user's events
            f"BEACONLAKE_BACKEND=aws AWS_DEFAULT_REGION={Aws.REGION} "
            f"BEACONLAKE_EVENTS_BUCKET={storage.events.bucket_name} "
            f"BEACONLAKE_FIREHOSE_BUFFER_SECONDS={settings.firehose_buffer_seconds} "
            f"BEACONLAKE_USER_ID_SITES={','.join(settings.user_id_sites)} "
            f"BEACONLAKE_USER_ID_PARAMETER_PREFIX={api.user_id_prefix} "
            f".venv/bin/beaconlake erase --site {site} --from YYYY-MM-DD --to YYYY-MM-DD",
        )
        self._acknowledge(storage, delivery, api)
        if settings.report_sender:  # e-mail reports and alerts (docs/REPORTS.md)
            Reports(self, "Reports", settings=settings, api=api, storage=storage, catalog=catalog)

    def _acknowledge(self, storage: Storage, delivery: Delivery, api: Api) -> None:
        nag.acknowledge_role(self, delivery.role, object_buckets=(storage.events,))
        for fn, paths, buckets in (
            (api.collect, (api.salt_prefix, api.user_id_prefix), ()),
            (api.rotate_salt, (api.salt_prefix,), ()),
            (api.stats, (), (storage.events, storage.athena_results)),
            (api.rollups, (), (storage.events, storage.athena_results)),
        ):
            nag.acknowledge_role(
                self, fn, basic_role=True, xray=True, ssm_paths=paths, buckets=buckets
            )
            nag.ack(fn, "L1", nag.WHY_RUNTIME)
        versions = f"IAM5[Resource::<{nag.logical(self, api.rotate_salt)}.Arn>:*]"
        nag.ack(api.next_day_salt_role, versions, nag.WHY_FUNCTION_VERSIONS)
        for route in api.stats_routes:
            nag.ack(route, "APIG4", nag.WHY_APP_AUTH)

    def _acknowledge_edge(self, edge: Edge, tracker: s3.IBucket) -> None:
        distribution = edge.distribution
        nag.ack(distribution, "CFR1", nag.WHY_NO_GEO_RESTRICTION)
        nag.ack(distribution, "CFR2", nag.WHY_NO_WAF)
        nag.ack(distribution, "CFR3", nag.WHY_NO_CLOUDFRONT_LOGS)
        nag.ack(distribution, "CFR4", nag.WHY_DEFAULT_CERTIFICATE)
        handler = next(
            c for c in self.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")
        )
        assets = "arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*"
        for rule in ("L1", f"IAM5[Resource::{assets}]"):
            nag.ack(handler, rule, nag.WHY_DEPLOYMENT_HANDLER)
        nag.acknowledge_role(self, handler, basic_role=True, xray=True, buckets=(tracker,))

    def _output(self, name: str, value: str) -> None:
        CfnOutput(self, name, value=value)
