"""The "previous good version" rule of core/deployments.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from slo_service.core.deployments import Deployment, previous_good

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _d(version: str, minutes: int, status: str = "succeeded", env: str = "prod", service: str = "api") -> Deployment:
    return Deployment(
        id=f"{service}-{env}-{version}-{minutes}",
        service=service,
        environment=env,
        version=version,
        model_version=None,
        commit=None,
        pipeline_url=None,
        at=T0 + timedelta(minutes=minutes),
        status=status,
    )


@pytest.mark.parametrize(
    ("history", "before", "expected"),
    [
        ([_d("v1", 0), _d("v2", 10)], "v2", "v1"),
        ([_d("v1", 0), _d("v2", 10), _d("v3", 20)], "v3", "v2"),
        ([_d("v1", 0), _d("v2", 10, status="failed"), _d("v3", 20)], "v3", "v1"),
        ([_d("v1", 0), _d("v2", 10), _d("v1", 20), _d("v2", 30)], "v2", "v1"),
        ([_d("v1", 0), _d("v2", 10), _d("v3", 20), _d("v2", 30)], "v2", "v3"),
        ([_d("v1", 0), _d("v1", 10)], "v1", None),
        ([_d("v1", 0)], "v9", "v1"),
        ([_d("v1", 0, env="staging"), _d("v2", 10)], "v2", None),
        ([_d("v1", 0, service="other"), _d("v2", 10)], "v2", None),
        ([], "v1", None),
    ],
    ids=[
        "one-back",
        "two-back",
        "skips-failed",
        "redeploy-goes-to-last-other",
        "redeploy-after-newer",
        "only-same-version",
        "unknown-version-latest-other",
        "other-environment-ignored",
        "other-service-ignored",
        "empty",
    ],
)
def test_previous_good_version(history: list[Deployment], before: str, expected: str | None) -> None:
    found = previous_good(list(reversed(history)), "api", "prod", before)
    assert (found.version if found else None) == expected
