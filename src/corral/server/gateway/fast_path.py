"""The gateway's endpoints served ahead of the app's router.

An agent's call through the gateway is the one request Corral serves hundreds of times a second,
and FastAPI's work on it — matching it against every route, solving its dependencies, wrapping
the endpoint — cost a third of what the gateway itself did. This middleware, innermost in the
app's stack (after the request id and the body size limit), answers the gateway's paths itself:
the same URL check, authentication and :func:`~corral.server.gateway.forward` as the routes,
whose declarations stay in the app for its OpenAPI schema. Refusals get the body and headers the
app's error handlers give; anything unexpected still reaches the app's last-resort handler.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from corral.errors import CorralError
from corral.server.deps import authenticated, get_runtime, refuse_nul_in_url
from corral.server.errors import corral_error_response
from corral.server.gateway import forward
from corral.server.gateway.protocols import (
    AnthropicMessages,
    OpenAIChat,
    OpenAIEmbeddings,
    ProviderApi,
)

ENDPOINTS: dict[str, ProviderApi] = {
    "/v1/chat/completions": OpenAIChat(),
    "/v1/embeddings": OpenAIEmbeddings(),
    "/v1/messages": AnthropicMessages(),
}


class GatewayFastPath:
    """Serves ``POST`` on the gateway's paths; passes everything else on to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = (
            ENDPOINTS.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if api is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            await refuse_nul_in_url(request)
            actor = await authenticated(request)
        except CorralError as error:
            await corral_error_response(error)(scope, receive, send)
            return
        response = await forward(request, get_runtime(request), actor, api)
        await response(scope, receive, send)
