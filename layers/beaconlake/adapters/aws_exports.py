"""Exports of any size on AWS: Athena UNLOADs the result to S3 and the caller gets short-lived
presigned GET links to the files, instead of the whole result through the stats function
(whose response Lambda caps at 6 MB).

The statement, for `sql` selecting one text column that holds a finished CSV line per row:

    UNLOAD (<sql>) TO 's3://<results bucket>/exports/<random id>/'
    WITH (format = 'TEXTFILE', field_delimiter = ',', compression = 'GZIP')

TEXTFILE writes each row's one column as it is, a line feed after it, no header row, and no
quoting of its own; so the SELECT builds the line (quoting and formula neutralisation as the
local CSV writer does). The header line goes into a gzip object of its own,
`<prefix>header.csv.gz`, written once the UNLOAD succeeded (UNLOAD needs an empty target
prefix); it is the first file of the answer, so the files concatenated (gzip members may be)
are one CSV file. A lifecycle rule on the results bucket deletes exports after a day."""

from __future__ import annotations

import gzip
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from beaconlake.config import EXPORTS_PREFIX
from beaconlake.ports import ExportFile, ExportFiles

HEADER_NAME = "header.csv.gz"


def unload_statement(sql: str, location: str) -> str:
    """The UNLOAD of `sql` to `location` (an S3 prefix that must hold no object yet)."""
    from beaconlake.sqldialect import string_literal  # sqlglot: not at the collector's start

    return (
        f"UNLOAD ({sql}) TO {string_literal(location)} "
        "WITH (format = 'TEXTFILE', field_delimiter = ',', compression = 'GZIP')"
    )


@dataclass(frozen=True)
class ExportTarget:
    """Where exports go (`bucket` empty: exports cannot be written) and how long links last."""

    bucket: str
    link_seconds: int = 900
    prefix: str = EXPORTS_PREFIX

    def new_prefix(self) -> str:
        """A fresh, unguessable, empty prefix for one export."""
        return f"{self.prefix}{secrets.token_hex(16)}/"

    def location(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    def finish(
        self, s3: Any, prefix: str, header: Sequence[str], rows: int, now: datetime | None = None
    ) -> ExportFiles:
        """Write the header object next to the files UNLOAD wrote under `prefix`, and link
        them all: the header first, then the data files in key order."""
        header_key = prefix + HEADER_NAME
        line = ",".join(header) + "\r\n"  # the column names need no quoting
        s3.put_object(
            Bucket=self.bucket,
            Key=header_key,
            Body=gzip.compress(line.encode()),
            ContentType="application/gzip",
        )
        found: list[tuple[str, int]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend((o["Key"], int(o["Size"])) for o in page.get("Contents", []))
        data = sorted(item for item in found if item[0] != header_key)
        sizes = dict(found)
        keys = [(header_key, sizes.get(header_key, 0)), *data]
        expires = (now or datetime.now(UTC)) + timedelta(seconds=self.link_seconds)
        files = tuple(
            ExportFile(
                s3.generate_presigned_url(
                    "get_object",
                    Params={"Bucket": self.bucket, "Key": key},
                    ExpiresIn=self.link_seconds,
                ),
                size,
            )
            for key, size in keys
        )
        return ExportFiles(rows=rows, files=files, expires_at=expires.replace(microsecond=0))
