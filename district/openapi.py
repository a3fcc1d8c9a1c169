"""The OpenAPI description of protocol v1's HTTP layer, with JSON Schemas of every body.

Routes read raw bytes (signatures and MACs are over exact bytes), so FastAPI cannot infer
the bodies: they are declared here, from docs/protocol.md, and ``tests/district/
test_openapi.py`` checks real requests and answers against them. Field-level rules that a
JSON Schema cannot express (signatures, MACs, cross-field checks) stay in the protocol text.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from kiosk.limits import MAX_EVENTS_PER_BATCH, MAX_JOBS_PER_FEED, MAX_ROOT_LINKS

_JWS = {"type": "string", "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"}
_B64 = {"type": "string", "pattern": r"^[A-Za-z0-9_-]*$"}
_V = {"type": "integer", "const": 1}
_OKP = {
    "type": "object",
    "required": ["kty", "crv", "x"],
    "additionalProperties": False,
    "properties": {"kty": {"const": "OKP"}, "crv": {"enum": ["Ed25519", "X25519"]}, "x": _B64},
}
_REF = "#/components/schemas/"

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,47}$"},
                    "message": {"type": "string", "maxLength": 500},
                    "retry_after_s": {"type": "integer", "minimum": 0, "maximum": 86400},
                },
            }
        },
    },
    "EnrollRequest": {
        "type": "object",
        "required": ["v", "code_id", "auth_jwk", "seal_jwk", "agent", "nonce", "mac"],
        "properties": {
            "v": _V,
            "code_id": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{5}$"},
            "auth_jwk": _OKP,
            "seal_jwk": _OKP,
            "agent": {"type": "string", "pattern": "^[A-Za-z0-9._/+-]{1,64}$"},
            "nonce": {"type": "string", "pattern": "^[A-Za-z0-9_-]{22}$"},
            "mac": _B64,
        },
    },
    "EnrollResponse": {
        "type": "object",
        "required": [
            "v",
            "device_id",
            "district",
            "office",
            "root_jwk",
            "keyring",
            "server_time",
            "nonce",
            "mac",
        ],
        "properties": {
            "v": _V,
            "device_id": {"type": "string", "pattern": "^dev_[0-9A-HJKMNP-TV-Z]{26}$"},
            "district": {
                "type": "object",
                "required": ["code", "name"],
                "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
            },
            "office": {
                "type": "object",
                "required": ["code", "name"],
                "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
            },
            "root_jwk": _OKP,
            "keyring": _JWS,
            "server_time": {"type": "integer", "minimum": 0},
            "nonce": {"type": "string"},
            "mac": _B64,
        },
    },
    "FeedResponse": {
        "type": "object",
        "required": ["v", "head", "jobs"],
        "properties": {
            "v": _V,
            "head": _JWS,
            "jobs": {"type": "array", "maxItems": MAX_JOBS_PER_FEED, "items": _JWS},
            "keyring": _JWS,
            "root": {  # the root chain (protocol §6.5): links of two tokens, oldest first
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_ROOT_LINKS,
                "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": _JWS},
            },
            "operators": _JWS,
        },
    },
    "EventBatch": {
        "type": "object",
        "required": ["v", "events"],
        "properties": {
            "v": _V,
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_EVENTS_PER_BATCH,
                "items": _JWS,
            },
        },
    },
    "EventResults": {
        "type": "object",
        "required": ["v", "results"],
        "properties": {
            "v": _V,
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "status"],
                    "properties": {
                        "id": {"type": ["string", "null"]},
                        "status": {"enum": ["stored", "duplicate", "rejected"]},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    },
    "Heartbeat": {
        "type": "object",
        "required": [
            "v",
            "agent",
            "sent_at",
            "time_floor",
            "feed_seq",
            "keyring_version",
            "spool",
            "printers",
            "journal_head",
            "last_errors",
        ],
        "properties": {
            "v": _V,
            "agent": {"type": "string"},
            "sent_at": {"type": "integer"},
            "time_floor": {"type": "integer"},
            "feed_seq": {"type": "integer"},
            "keyring_version": {"type": "integer"},
            "spool": {"type": "object", "additionalProperties": {"type": "integer"}},
            "printers": {"type": "array", "maxItems": 4, "items": {"type": "object"}},
            "journal_head": {"type": ["string", "null"]},
            "last_errors": {"type": "array", "maxItems": 10, "items": {"type": "object"}},
        },
    },
    "HeartbeatAnswer": {
        "type": "object",
        "required": ["v", "server_time"],
        "properties": {"v": _V, "server_time": {"type": "integer"}},
    },
    "SealKeyRequest": {
        "type": "object",
        "required": ["v", "seal_jwk"],
        "properties": {"v": _V, "seal_jwk": _OKP},
    },
    "SealKeyAnswer": {
        "type": "object",
        "required": ["v", "seal_kid"],
        "properties": {"v": _V, "seal_kid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}},
    },
}


def _json(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": _REF + name}}}}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"description": "error body (protocol section 15)", **_json("Error")}
        for code in codes
    }


_PROOF: list[dict[str, list[str]]] = [{"CedokaProof": []}]
_AUTH_ERRORS = (400, 401, 403, 409, 413, 429, 503)

ROUTE_DOCS: dict[str, dict[str, Any]] = {
    "enroll": {
        "summary": "Enrol a kiosk with a one-time code (protocol section 4)",
        "openapi_extra": {"requestBody": {"required": True, **_json("EnrollRequest")}},
        "responses": {200: {"description": "enrolled", **_json("EnrollResponse")},
                      **_errors(400, 403, 413, 429)},
    },
    "feed": {
        "summary": "Long-poll the device's feed (protocol section 6)",
        "openapi_extra": {
            "security": _PROOF,
            "parameters": [
                {"name": "after", "in": "query", "required": True,
                 "schema": {"type": "integer", "minimum": 0}},
                {"name": "kr", "in": "query", "required": True,
                 "schema": {"type": "integer", "minimum": 0}},
                {"name": "ov", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0}},
                {"name": "wait", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0, "maximum": 60, "default": 55}},
            ],
        },
        "responses": {200: {"description": "head, jobs, keyring, root chain, operators",
                            **_json("FeedResponse")},
                      **_errors(*_AUTH_ERRORS)},
    },
    "blob": {
        "summary": "Download a sealed document blob, resumable with Range (protocol section 8)",
        "openapi_extra": {"security": _PROOF},
        "responses": {
            200: {"description": "the sealed blob",
                  "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                      "format": "binary"}}}},
            206: {"description": "a byte range of the sealed blob",
                  "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                      "format": "binary"}}}},
            **_errors(*_AUTH_ERRORS, 404, 410, 416),
        },
    },
    "events": {
        "summary": "Send signed job events, idempotent by event id (protocol section 11)",
        "openapi_extra": {"security": _PROOF,
                          "requestBody": {"required": True, **_json("EventBatch")}},
        "responses": {200: {"description": "one result per event", **_json("EventResults")},
                      **_errors(*_AUTH_ERRORS)},
    },
    "heartbeat": {
        "summary": "Report the kiosk's health (protocol section 12)",
        "openapi_extra": {"security": _PROOF,
                          "requestBody": {"required": True, **_json("Heartbeat")}},
        "responses": {200: {"description": "server time", **_json("HeartbeatAnswer")},
                      **_errors(*_AUTH_ERRORS)},
    },
    "seal_key": {
        "summary": "Rotate the device's sealing key (protocol section 14.2)",
        "openapi_extra": {"security": _PROOF,
                          "requestBody": {"required": True, **_json("SealKeyRequest")}},
        "responses": {200: {"description": "the new seal kid", **_json("SealKeyAnswer")},
                      **_errors(*_AUTH_ERRORS)},
    },
}  # fmt: skip


def install_openapi(app: FastAPI) -> None:
    """Add the schemas and the proof security scheme to the generated document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(SCHEMAS)
            components["securitySchemes"] = {
                "CedokaProof": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "CedokaProof <compact JWS> (protocol section 5)",
                }
            }  # fmt: skip
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
