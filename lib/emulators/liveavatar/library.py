"""The account's stored secrets and contexts (`/v1/secrets`, `/v1/contexts`): what the OpenAI
Realtime connector runs on. A secret's value never leaves the server: listings and answers
carry its id and name only."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from lib.emulators.liveavatar.envelope import ok, require_key
from lib.emulators.rooms import catalog
from lib.emulators.rooms.api_errors import liveavatar_error
from lib.emulators.rooms.bounds import clip
from lib.emulators.rooms.http_io import read_fastapi_json
from lib.emulators.rooms.schemas import ContextBody, SecretBody, parse_fastapi

MAX_ITEMS: Final = 100  # of each kind per account


@dataclass(frozen=True)
class StoredSecret:
    secret_id: str
    secret_type: str
    secret_name: str
    value: str = field(repr=False)  # never shown: not in answers, logs or tracebacks
    created_at: float = field(default_factory=time.time)

    def shown(self) -> dict[str, Any]:
        return {
            "id": self.secret_id,
            "secret_name": self.secret_name,
            "secret_type": self.secret_type,
            "created_at": catalog.iso(self.created_at),
        }


@dataclass(frozen=True)
class Context:
    context_id: str
    name: str
    prompt: str
    opening_text: str
    created_at: float = field(default_factory=time.time)

    def shown(self) -> dict[str, Any]:
        at = catalog.iso(self.created_at)
        return {
            "id": self.context_id,
            "name": self.name,
            "prompt": self.prompt,
            "opening_text": self.opening_text,
            "links": [],
            "required_dynamic_variables": [],
            "created_at": at,
            "updated_at": at,
        }


class Library:
    def __init__(self) -> None:
        self.secrets: OrderedDict[str, StoredSecret] = OrderedDict()
        self.contexts: OrderedDict[str, Context] = OrderedDict()


def library_of(request: Request) -> Library:
    state = request.app.state
    if not hasattr(state, "liveavatar_library"):
        state.liveavatar_library = Library()
    library: Library = state.liveavatar_library
    return library


def _room_for(kind: str, items: OrderedDict[str, Any]) -> None:
    if len(items) >= MAX_ITEMS:
        raise liveavatar_error(400, f"{kind} limit reached ({MAX_ITEMS}); delete some first")


async def create_secret(request: Request) -> JSONResponse:
    require_key(request)
    body = parse_fastapi(SecretBody, await read_fastapi_json(request))
    secrets = library_of(request).secrets
    _room_for("Secret", secrets)
    secret = StoredSecret(uuid.uuid4().hex, body.secret_type, body.secret_name, body.secret_value)
    secrets[secret.secret_id] = secret
    return ok(secret.shown(), "Secret created successfully")


async def list_secrets(request: Request) -> JSONResponse:
    require_key(request)
    shown = [s.shown() for s in library_of(request).secrets.values()]
    return ok(catalog.page(shown), "Secrets retrieved successfully")


async def delete_secret(request: Request) -> JSONResponse:
    require_key(request)
    secret_id = request.path_params["secret_id"]
    if library_of(request).secrets.pop(secret_id, None) is None:
        raise liveavatar_error(404, f"Secret {clip(secret_id)} not found")
    return ok(None, "Secret deleted successfully")


async def create_context(request: Request) -> JSONResponse:
    require_key(request)
    body = parse_fastapi(ContextBody, await read_fastapi_json(request))
    contexts = library_of(request).contexts
    _room_for("Context", contexts)
    context = Context(uuid.uuid4().hex, body.name, body.prompt, body.opening_text)
    contexts[context.context_id] = context
    return ok(context.shown(), "Context created successfully")


async def list_contexts(request: Request) -> JSONResponse:
    require_key(request)
    shown = [c.shown() for c in library_of(request).contexts.values()]
    return ok(catalog.page(shown), "Contexts retrieved successfully")


def _context(request: Request) -> Context:
    context_id = request.path_params["context_id"]
    context = library_of(request).contexts.get(context_id)
    if context is None:
        raise liveavatar_error(404, f"Context {clip(context_id)} not found")
    return context


async def get_context(request: Request) -> JSONResponse:
    require_key(request)
    return ok(_context(request).shown(), "Context retrieved successfully")


async def delete_context(request: Request) -> JSONResponse:
    require_key(request)
    del library_of(request).contexts[_context(request).context_id]
    return ok(None, "Context deleted successfully")


def routes() -> list[BaseRoute]:
    return [
        Route("/v1/secrets", create_secret, methods=["POST"]),
        Route("/v1/secrets", list_secrets, methods=["GET"]),
        Route("/v1/secrets/{secret_id}", delete_secret, methods=["DELETE"]),
        Route("/v1/contexts", create_context, methods=["POST"]),
        Route("/v1/contexts", list_contexts, methods=["GET"]),
        Route("/v1/contexts/{context_id}", get_context, methods=["GET"]),
        Route("/v1/contexts/{context_id}", delete_context, methods=["DELETE"]),
    ]
