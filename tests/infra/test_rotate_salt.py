"""functions/rotate_salt, as EventBridge invokes it, against SSM in moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.rotate_salt.app import handler
from tests.apigw import Context
from tests.conftest import SALT_PREFIX as PREFIX

SCHEDULED_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def test_creates_todays_salt_and_deletes_those_older_than_48_hours(ssm) -> None:
    today = datetime.now(UTC).date()
    for age in (1, 3, 10):
        day = (today - timedelta(days=age)).isoformat()
        ssm.put_parameter(Name=f"{PREFIX}/{day}", Value="00" * 32, Type="SecureString")

    result = handler(SCHEDULED_EVENT, Context())

    names = {
        p["Name"].rsplit("/", 1)[1] for p in ssm.get_parameters_by_path(Path=PREFIX)["Parameters"]
    }
    assert names == {today.isoformat(), (today - timedelta(days=1)).isoformat()}
    assert sorted(result["days"]) == sorted(names)
