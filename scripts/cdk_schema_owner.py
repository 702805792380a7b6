"""Exit 0 when aws_cdk/cloud_assembly_schema/__init__.py is aws-cdk-lib's copy (or when
aws-cdk-lib is not installed), 1 when another package's copy overwrote it (scripts/install.sh
then reinstalls aws-cdk-lib). tests/unit/test_lock.py checks the same."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import sys

SHARED = "aws_cdk/cloud_assembly_schema/__init__.py"


def owned_by_aws_cdk_lib() -> bool:
    try:
        dist = importlib.metadata.distribution("aws-cdk-lib")
    except importlib.metadata.PackageNotFoundError:
        return True
    record = next((f for f in dist.files or () if str(f) == SHARED), None)
    if record is None or record.hash is None:
        return True
    data = dist.locate_file(record).read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return digest == record.hash.value


if __name__ == "__main__":
    sys.exit(0 if owned_by_aws_cdk_lib() else 1)
