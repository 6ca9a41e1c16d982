"""Paystack's OpenAPI description as a test oracle (imported as a top-level module, like sandbox_helpers).

`response_errors(method, path, status, body)` and `request_errors(method, path, body)` validate a JSON
body against the schema the description gives for that operation, with OpenAPI 3.0 semantics
(`nullable`) through openapi-schema-validator. The description is vendored in
tests/data/paystack-openapi/ (a test keeps it equal to shared/reference when that is present).

Where the description contradicts itself or Paystack's own samples, ALLOWANCES below patches the one
schema node concerned, with the reason. Everything else is validated as written: an allowance is a
documented exception, never a skip. The inconsistencies found (and how each is handled):

1. `Error.code` carries the enum of `Error.type` (`validation_error|processor_error|api_error`);
   Paystack's codes are `invalid_params`, `missing_params`, `duplicate_reference`, ... The enum is
   moved to `type`, where TransactionInitializeBadRequestModel puts it, so `type` is still checked.
2. GET /transaction describes only offset `meta` (additionalProperties false), but `use_cursor=true`
   answers `{next, previous, perPage}` (the docs' pagination page and Paystack's own list sample):
   meta may be either shape.
3. The same transaction is described four ways: verify says `plan` is a nullable string and `source`
   anything, fetch and list say objects; fetch says `paid_at`, `fees`, `ip_address`, the customer's
   names/phone are non-null strings and `metadata` an object with required `custom_fields` (copied
   from one paid example), where verify and list make them nullable. Fetch is held to what verify
   and list say for those fields (an abandoned transaction has no `paid_at`, a customer may have no
   name); `metadata` is what verify says (`anyOf string|object`, also `""` in Paystack's samples).
4. A refund's `customer` (list/fetch) says `metadata` is a string and names and phones are non-null
   (copied from one example); the transaction's customer (verify) makes them nullable and
   metadata anything: the refund's customer is held to that.
5. POST /refund's request schema says `transaction` is "the reference" (a string); the docs accept a
   reference or an id. The client sends a string either way, so the schema is used as written.
6. `metadata` is an object in POST /transaction/initialize but a string ("stringified JSON") in
   POST /transaction/charge_authorization (request and response): both are used as written.
7. Only POST /transaction/initialize documents a 400, POST /refund no 404, and no operation a 429
   or a 5xx (`default: Server error`, no body schema); Paystack answers them all with the same
   envelope, so an undocumented error status is validated against `Error`.
8. Verify says `ip_address` is a non-null string; list and charge_authorization make it nullable
   (a charge through the API has no client IP): verify is held to that. Fetch and list require
   every authorization field, but an unpaid transaction's `authorization` is `{}` in Paystack's
   samples: an empty object is allowed there, nothing in between. Verify and fetch make `bank` and
   `signature` non-null strings where list makes them nullable (a bank transfer has neither).
   List makes `paid_at` nullable but `paidAt` not; verify's `metadata` is `anyOf string|object`
   but null in Paystack's samples for a transaction initialized without metadata.
9. POST /transaction/charge_authorization describes only the "Charge attempted" answer. The 2FA
   "paused" answer of Paystack's recurring-charges two-factor page (reference section 4: status
   true, "Please, redirect your customer to the authorization url provided", data with
   authorization_url, reference, access_code and paused: true, none of the transaction's fields)
   is not in the description: data may be either shape, the paused one checked field by field.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]
from openapi_schema_validator import OAS30Validator

DESCRIPTION = Path(__file__).resolve().parent / "data" / "paystack-openapi" / "paystack.yaml"
SHARED_DESCRIPTION = Path(__file__).resolve().parents[2] / "shared" / "reference" / "paystack-openapi" / "paystack.yaml"

NULLABLE_STRING: dict[str, Any] = {"type": "string", "nullable": True}
ANYTHING: dict[str, Any] = {}
METADATA: dict[str, Any] = {"anyOf": [{"type": "string", "nullable": True}, {"type": "object"}]}
EMPTY_OBJECT: dict[str, Any] = {"type": "object", "maxProperties": 0}
CURSOR_META: dict[str, Any] = {
    "type": "object",
    "required": ["next", "previous", "perPage"],
    "properties": {
        "next": NULLABLE_STRING,
        "previous": NULLABLE_STRING,
        "perPage": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    },
}


PAUSED_CHARGE: dict[str, Any] = {
    "type": "object",
    "required": ["authorization_url", "reference", "access_code", "paused"],
    "additionalProperties": False,
    "properties": {
        "authorization_url": {"type": "string", "pattern": "^https://"},
        "reference": {"type": "string"},
        "access_code": {"type": "string"},
        "paused": {"type": "boolean", "enum": [True]},
    },
}


@dataclass(frozen=True)
class Allowance:
    operation: str  # operationId, or "Error" for the error envelope
    at: tuple[str, ...]  # property names from the body's root; "[]" steps into array items
    replace: dict[str, Any] | None = None  # the node becomes this schema
    nullable: bool = False  # or: the node also accepts null
    also: dict[str, Any] | None = None  # or: the node also accepts this schema (anyOf)
    why: str = ""


def _customer_nullables(operation: str, prefix: tuple[str, ...], why: str) -> list[Allowance]:
    names = ("first_name", "last_name", "phone", "international_format_phone")
    rows = [Allowance(operation, (*prefix, name), nullable=True, why=why) for name in names]
    rows.append(Allowance(operation, (*prefix, "metadata"), replace=ANYTHING, why=why))
    return rows


_FETCH = "transaction_fetch"
_TRANSFER_WHY = "a bank transfer's authorization has no bank or signature: nullable in list (8)"
_UNPAID_WHY = "an unpaid transaction's authorization is {} in Paystack's samples (8)"
_IP_WHY = "API charges have no client IP: list and charge_authorization make ip_address nullable (8)"
_FETCH_WHY = "fetch's schema is one paid example; verify/list make it nullable (inconsistency 3)"
_REFUND_CUSTOMER_WHY = "a refund's customer is the transaction's customer, nullable as in verify (4)"

ALLOWANCES: tuple[Allowance, ...] = (
    # nullable/replace rows first: an `also` row wraps its node in anyOf, after which nothing below it is patched
    *(
        Allowance(op, ("data", "authorization", name), nullable=True, why=_TRANSFER_WHY)
        for op in ("transaction_verify", _FETCH)
        for name in ("bank", "signature")
    ),
    Allowance("transaction_verify", ("data", "metadata"), replace=METADATA, why="null in Paystack's samples (3)"),
    Allowance("transaction_list", ("data", "[]", "paidAt"), nullable=True, why="list's paid_at is nullable (3)"),
    Allowance("Error", ("code",), replace={"type": "string"}, why="Error.code holds type's enum (1)"),
    Allowance(
        "Error",
        ("type",),
        replace={"type": "string", "enum": ["validation_error", "processor_error", "api_error"]},
        why="the enum Error.code carries belongs to type (1)",
    ),
    Allowance("transaction_list", ("meta",), also=CURSOR_META, why="cursor pagination meta (2)"),
    Allowance("transaction_chargeAuthorization", ("data",), also=PAUSED_CHARGE, why="the 2FA paused answer (9)"),
    Allowance("transaction_list", ("data", "[]", "metadata"), replace=METADATA, why="as verify says (3)"),
    *(Allowance(_FETCH, ("data", name), nullable=True, why=_FETCH_WHY) for name in ("paid_at", "paidAt", "fees")),
    Allowance(_FETCH, ("data", "ip_address"), nullable=True, why=_FETCH_WHY),
    Allowance(_FETCH, ("data", "metadata"), replace=METADATA, why="as verify says (3)"),
    Allowance(_FETCH, ("data", "authorization"), also=EMPTY_OBJECT, why=_UNPAID_WHY),
    Allowance("transaction_list", ("data", "[]", "authorization"), also=EMPTY_OBJECT, why=_UNPAID_WHY),
    Allowance("transaction_verify", ("data", "ip_address"), nullable=True, why=_IP_WHY),
    *_customer_nullables(_FETCH, ("data", "customer"), _FETCH_WHY),
    *_customer_nullables("refund_list", ("data", "[]", "customer"), _REFUND_CUSTOMER_WHY),
    *_customer_nullables("refund_fetch", ("data", "customer"), _REFUND_CUSTOMER_WHY),
)


@functools.cache
def description() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with DESCRIPTION.open("rb") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader
    return loaded


def _resolve(node: Any, seen: tuple[str, ...] = ()) -> Any:
    """Inline every local $ref (a recursive one becomes "anything": none is on the paths we check)."""
    if isinstance(node, list):
        return [_resolve(item, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return {}
        target: Any = description()
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return _resolve(target, (*seen, ref))
    return {key: _resolve(value, seen) for key, value in node.items() if key not in ("example", "examples")}


def _node(schema: dict[str, Any], at: tuple[str, ...]) -> dict[str, Any]:
    node = schema
    for step in at:
        node = node["items"] if step == "[]" else node["properties"][step]
    return node


def _patched(operation: str, schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    for allowance in ALLOWANCES:
        if allowance.operation != operation:
            continue
        container = _node(schema, allowance.at[:-1])["properties"]
        name = allowance.at[-1]
        current = container[name]  # a KeyError here means the allowance no longer matches the description
        if allowance.replace is not None:
            container[name] = copy.deepcopy(allowance.replace)
        elif allowance.nullable:
            current["nullable"] = True
        elif allowance.also is not None:
            container[name] = {"anyOf": [current, copy.deepcopy(allowance.also)]}
    return schema


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """(path template, operation) for a concrete request path; literal segments win over {params}."""
    segments = path.rstrip("/").split("/")
    best: tuple[int, str, dict[str, Any]] | None = None
    for template, item in description()["paths"].items():
        parts = template.rstrip("/").split("/")
        operation = item.get(method.lower())
        if operation is None or len(parts) != len(segments):
            continue
        literal = 0
        for want, got in zip(parts, segments, strict=True):
            if re.fullmatch(r"\{[^}]+\}", want):
                continue
            if want != got:
                break
            literal += 1
        else:
            if best is None or literal > best[0]:
                best = (literal, template, operation)
    if best is None:
        raise LookupError(f"the description has no operation for {method} {path}")
    return best[1], best[2]


@functools.cache
def _response_schema(method: str, template: str, status: int) -> tuple[str, dict[str, Any]]:
    operation = description()["paths"][template][method.lower()]
    responses = operation["responses"]
    response = responses.get(str(status))
    if response is None and status >= 400:
        return "Error", _patched("Error", _resolve({"$ref": "#/components/schemas/Error"}))  # inconsistency 7
    if response is None:
        raise LookupError(f"the description has no HTTP {status} answer for {method} {template}")
    schema = _resolve(response)["content"]["application/json"]["schema"]
    name = "Error" if status >= 400 else operation["operationId"]
    return name, _patched(name, schema)


def response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    template, _ = operation_for(method, path)
    return _response_schema(method.upper(), template, status)[1]


def response_errors(method: str, path: str, status: int, body: object) -> list[str]:
    """Every way `body` disagrees with the description's answer to METHOD PATH with HTTP status."""
    return _errors(response_schema(method, path, status), body)


def request_errors(method: str, path: str, body: object) -> list[str]:
    """Every way a JSON request body disagrees with the operation's request schema."""
    _, operation = operation_for(method, path)
    schema = _resolve(operation["requestBody"])["content"]["application/json"]["schema"]
    return _errors(schema, body)


def _errors(schema: dict[str, Any], body: object) -> list[str]:
    validator = OAS30Validator(schema)
    found = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}" for error in found]
