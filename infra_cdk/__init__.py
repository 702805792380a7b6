"""The Beaconlake CDK app (see docs/DEPLOY.md)."""

import os

# jsii prints a banner for every Node version it has not been tested with; the CLI pins its own.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
