"""Who sent a CI request: a token (checked by api/auth.py) or, without one, an HMAC signature of the raw
body checked here (core/ci_signature.py: the headers, what is signed, the 5-minute window)."""

from __future__ import annotations

from fastapi import HTTPException, Request

from slo_service.core.ci_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, check_signature
from slo_service.pipeline.deployments import DeploymentService

SIGNED_BY = "ci-signature"
"""Who a signed request is, where a name is recorded (a freeze's `by`, logs)."""


def _refuse(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": f'HMAC-SHA256 header="{SIGNATURE_HEADER}"'})


async def ci_caller(request: Request) -> str:
    """The dependency of CI routes: the token's name, or SIGNED_BY for a good, fresh, unseen signature; 401
    otherwise. A state-changing request's signature is remembered, so the same request again is refused."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:  # api/auth.py verified the token and its scope
        return str(principal.name)
    if request.app.state.auth.anonymous_read and request.method == "GET" and SIGNATURE_HEADER not in request.headers:
        return "anonymous"
    service: DeploymentService = request.app.state.deployments
    body = await request.body()
    signature = request.headers.get(SIGNATURE_HEADER)
    problem = check_signature(
        request.app.state.ci_secret, request.headers.get(TIMESTAMP_HEADER), signature, body, service.clock.now()
    )
    if problem is not None:
        raise _refuse(problem)
    assert signature is not None  # check_signature refused a missing one
    # GETs (polls) change nothing, so a repeat does no harm and is not remembered.
    if request.method != "GET" and not service.accept_signature(signature):
        raise _refuse(f"{SIGNATURE_HEADER}: this signed request was received already (replay)")
    return SIGNED_BY
