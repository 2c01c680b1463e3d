#!/usr/bin/env python3
"""Generate `sandbox_shapes.json`, the answer shapes of the endpoints the sandbox simulates.

The sandbox server (`crates/ofapi/src/sandbox`) imitates OnlyFansAPI; a client
built on the official SDK must be able to read its answers. For every endpoint
in `SIMULATED_ENDPOINTS` this script finds the SDK method implementing it
(matched on the HTTP method and path of its entry in `onlyfans.json`, which are
authoritative), takes the response model the method casts to, and writes a
template of the model's `data` field: the JSON value listing every field the
model declares, under its wire name. The envelope's `_meta` and `_pagination`
are produced by the server itself and are left out. A response model without a
`data` field (or a `cast_to` that is no model) is templated whole and marked
`"whole_response": true`.

Template rules, applied recursively:
  * a model -> an object with every declared field, in declaration order, keyed
    by wire name (pydantic alias, else the Python name);
  * a scalar -> the name of its JSON type: `"string"` (str, datetime, date),
    `"integer"` (int), `"number"` (float), `"boolean"` (bool); a `Literal[...]`
    -> the JSON type of its first value. Every field of these models is
    optional, so any of them may also be `null` on the wire;
  * `Optional[X]` -> the template of X;
  * `List[X]` -> `[template of X]`, meaning "a list of X";
  * `Dict`, `object`, `Any` and unions of several non-model types -> `"any"`; a
    union with models -> the first model's template (listed in the summary);
  * a model nested inside itself -> `"any"` once `MAX_DEPTH` models deep.

Sources: `onlyfans.json` next to this script (method and path of each endpoint)
and the official Python SDK (PyPI package `onlyfans`, import name
`onlyfansapi`), pinned to `SDK_VERSION`. The resource methods are read from the
SDK source with `ast` (the helpers of `generate.py`); the response models are
imported and read through pydantic, which resolves their aliases and nested
types. Output depends on the SDK version and the catalog alone, so a rerun
produces a byte-identical file.

Run from the repository root (no network access apart from the pip install):

    python3 -m venv .venv-catalog
    .venv-catalog/bin/pip install onlyfans==0.2.0
    .venv-catalog/bin/python crates/ofapi/catalog/generate_shapes.py

The script prints a summary: the SDK method and response model of each
endpoint, the whole-response cases, the unions and where recursion was cut.
"""

from __future__ import annotations

import ast
import datetime
import importlib
import json
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import onlyfansapi
import pydantic
import typing_extensions

# The SDK-source helpers shared with the catalog generator (same folder).
from generate import HTTP_VERBS, SourceModule, keyword, normalise_path, resource_requests, type_name

SDK_VERSION = "0.2.0"

CATALOG_DIR = Path(__file__).resolve().parent
REPO_ROOT = CATALOG_DIR.parents[2]  # crates/ofapi/catalog/ -> repository root
CATALOG_FILE = CATALOG_DIR / "onlyfans.json"
OUTPUT_FILE = CATALOG_DIR / "sandbox_shapes.json"

# A model met again inside itself is cut (templated `"any"`) at this nesting depth.
MAX_DEPTH = 8

# The catalog endpoints the sandbox server simulates.
SIMULATED_ENDPOINTS = [
    "account.get-current-account",
    "account.get-top-percentage",
    "account.list-accounts",
    "analytics-summary.get-earnings-overview",
    "api-keys.whoami",
    "chat-messages.list-chat-messages",
    "chat-messages.send-message",
    "chats.list-chats",
    "fans.list-active-fans",
    "fans.list-all-fans",
    "fans.list-expired-fans",
    "fans.list-latest-fans",
    "fans.list-top-fans",
    "free-trial-links.create-free-trial-link",
    "free-trial-links.delete-free-trial-link",
    "free-trial-links.get-free-trial-link",
    "free-trial-links.list-free-trial-links",
    "mass-messaging.get-mass-message",
    "mass-messaging.get-mass-message-overview",
    "mass-messaging.list-mass-message-queue",
    "mass-messaging.send-mass-message",
    "mass-messaging.unsend-delete-mass-message",
    "media-vault.list-vault-media",
    "notifications.get-notification-counts",
    "payouts.get-account-balances",
    "posts.list-posts",
    "posts.send-post",
    "statistics.get-earnings",
    "statistics.get-subscriber-metrics",
    "statistics.statistics-overview",
    "tracking-links.create-tracking-link",
    "tracking-links.delete-tracking-link",
    "tracking-links.get-tracking-link",
    "tracking-links.get-tracking-link-stats",
    "tracking-links.list-tracking-links",
    "transactions.list-transactions",
    "user-list-collections.add-users-to-user-list",
    "user-list-collections.create-user-list",
    "user-list-collections.list-user-list-users",
    "user-list-collections.list-user-lists",
    "webhooks.create-webhook",
    "webhooks.delete-webhook",
    "webhooks.list-available-events",
    "webhooks.list-webhooks",
    "webhooks.show-webhook",
    "webhooks.update-webhook",
]

SCALAR_TEMPLATES: dict[type, object] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    datetime.datetime: "string",
    datetime.date: "string",
}


def literal_template(value: object) -> str:
    """The JSON type name of a `Literal` value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"
SEQUENCE_ORIGINS = {list, tuple, set, frozenset, typing.Sequence, typing.List, typing.Iterable}
MAPPING_ORIGINS = {dict, typing.Dict, typing.Mapping}
UNION_ORIGINS = {typing.Union, types.UnionType}
LITERAL_ORIGINS = {typing.Literal, typing_extensions.Literal}


# --------------------------------------------------------------------------
# Finding each endpoint's SDK method and response model
# --------------------------------------------------------------------------


@dataclass
class SdkCall:
    ref: str  # module.Class.method, as in generate.py's summary
    resource: str  # the resource class, as module.Class relative to the SDK package
    method_name: str
    http_method: str
    path: str
    cast_to: object  # the class or type the SDK casts the answer to
    cast_to_name: str


def cast_target(module: SourceModule, fn: ast.FunctionDef, call: ast.Call) -> tuple[object, str]:
    """The `cast_to` of a request call: `X` or `cast(Any, X)` (the SDK's spelling for union types)."""
    expr = keyword(call, "cast_to")
    if isinstance(expr, ast.Call) and type_name(expr.func) == "cast":
        expr = expr.args[1]
    name = type_name(expr)
    if name is None:
        raise ValueError(f"{module.relative_name()}.{fn.name}: unexpected cast_to {ast.unparse(expr)}")
    python_module = importlib.import_module(f"{onlyfansapi.__name__}.{module.relative_name()}")
    if hasattr(python_module, name):
        return getattr(python_module, name), name
    import builtins
    return getattr(builtins, name), name


def sdk_calls() -> list[SdkCall]:
    """Every request method of the SDK with the response model it casts to."""
    calls = []
    for module, cls, fn, call in resource_requests():
        target = call.args[0]
        if isinstance(target, ast.Call) and type_name(target.func) == "path_template":
            target = target.args[0]
        cast_to, cast_to_name = cast_target(module, fn, call)
        calls.append(SdkCall(
            ref=f"{module.relative_name()}.{cls.name}.{fn.name}",
            resource=f"{module.relative_name()}.{cls.name}",
            method_name=fn.name,
            http_method=HTTP_VERBS[call.func.attr],
            path=target.value,
            cast_to=cast_to,
            cast_to_name=cast_to_name,
        ))
    return calls


def client_attribute_paths() -> dict[str, str]:
    """How each resource class is reached from a client: resources.fans.fans.FansResource -> `client.fans`.

    Classes are keyed by module and name: several share a name (e.g. MessagesResource).

    A client is built offline (no request is sent) and its resource properties are
    walked; `with_raw_response` / `with_streaming_response` wrappers are skipped.
    """
    client = onlyfansapi.OnlyFansAPI(api_key="offline", base_url="http://127.0.0.1:9")
    paths: dict[type, str] = {}
    pending: list[tuple[object, str]] = [(client, "client")]
    while pending:
        owner, owner_path = pending.pop(0)
        for name in sorted(dir(type(owner))):
            if name.startswith(("_", "with_")):
                continue
            descriptor = getattr(type(owner), name)
            if not isinstance(descriptor, (property, onlyfansapi._compat.cached_property)):
                continue
            value = getattr(owner, name)
            kind = type(value)
            if kind.__name__.endswith("Resource") and kind not in paths:
                paths[kind] = f"{owner_path}.{name}"
                pending.append((value, paths[kind]))
    client.close()
    package = f"{onlyfansapi.__name__}."
    return {f"{kind.__module__.removeprefix(package)}.{kind.__qualname__}": path for kind, path in paths.items()}


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------


@dataclass
class Notes:
    """What the summary reports about one endpoint's template."""

    unions: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)
    free_form: list[str] = field(default_factory=list)  # Dict / object / Any -> "any"


def is_model(tp: object) -> bool:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def is_scalar(tp: object) -> bool:
    return tp in SCALAR_TEMPLATES or typing.get_origin(tp) in LITERAL_ORIGINS


def describe_type(tp: object) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


def template(tp: object, where: str, notes: Notes, ancestors: tuple[type, ...] = ()) -> object:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated or origin is typing_extensions.Annotated:
        return template(args[0], where, notes, ancestors)
    if origin in UNION_ORIGINS:
        members = [arg for arg in args if arg is not type(None)]
        if len(members) == 1:  # Optional[X]
            return template(members[0], where, notes, ancestors)
        models = [member for member in members if is_model(member)]
        names = ", ".join(describe_type(member) for member in members)
        if models:
            notes.unions.append(f"{where}: Union[{names}] -> first model {models[0].__name__}")
            return template(models[0], where, notes, ancestors)
        notes.unions.append(f"{where}: Union[{names}] -> any")
        return "any"
    if origin in LITERAL_ORIGINS:
        return literal_template(args[0])
    if origin in SEQUENCE_ORIGINS:
        return [template(args[0] if args else typing.Any, f"{where}[]", notes, ancestors)]
    if origin in MAPPING_ORIGINS or tp in (dict, object, typing.Any):
        notes.free_form.append(where)
        return "any"
    if tp in SCALAR_TEMPLATES:
        return SCALAR_TEMPLATES[tp]
    if tp is type(None):
        return "any"
    if is_model(tp):
        if tp in ancestors and len(ancestors) >= MAX_DEPTH:
            notes.cut.append(f"{where}: {tp.__name__} nested {len(ancestors)} models deep")
            return "any"
        return {
            (info.alias or name): template(info.annotation, f"{where}.{info.alias or name}", notes, ancestors + (tp,))
            for name, info in tp.model_fields.items()
        }
    raise ValueError(f"{where}: unsupported type {tp!r}")


def data_field(cast_to: object) -> pydantic.fields.FieldInfo | None:
    """The `data` field of a response model, if the answer is a model with one."""
    if not is_model(cast_to):
        return None
    return next((info for name, info in cast_to.model_fields.items() if (info.alias or name) == "data"), None)


def response_template(cast_to: object, notes: Notes) -> tuple[object, bool]:
    """The template of the `data` field, or of the whole response; and whether it is the whole response."""
    # A union of response models: the first one stands for all (reported in the summary).
    if typing.get_origin(cast_to) in UNION_ORIGINS:
        members = [arg for arg in typing.get_args(cast_to) if is_model(arg)]
        if members:
            names = ", ".join(describe_type(arg) for arg in typing.get_args(cast_to))
            notes.unions.append(f"(response): Union[{names}] -> first model {members[0].__name__}")
            cast_to = members[0]
    data = data_field(cast_to)
    if data is None:
        return template(cast_to, "(response)", notes), True
    return template(data.annotation, "data", notes, (cast_to,)), False


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main() -> None:
    if onlyfansapi.__version__ != SDK_VERSION:
        sys.exit(f"onlyfansapi {onlyfansapi.__version__} is installed, the shapes are pinned to {SDK_VERSION}")
    if not hasattr(pydantic.BaseModel, "model_fields"):
        sys.exit(f"pydantic {pydantic.VERSION} is installed; this script reads models through pydantic 2")
    catalog = {entry["id"]: entry for entry in json.loads(CATALOG_FILE.read_text(encoding="utf-8"))}
    if unknown := [key for key in SIMULATED_ENDPOINTS if key not in catalog]:
        sys.exit("SIMULATED_ENDPOINTS names endpoints missing from onlyfans.json: " + ", ".join(unknown))

    calls = sdk_calls()
    by_route: dict[tuple[str, str], list[SdkCall]] = {}
    for call in calls:
        by_route.setdefault((call.http_method, normalise_path(call.path)), []).append(call)
    resource_paths = client_attribute_paths()

    output: dict[str, dict] = {}
    unmapped: list[str] = []
    print(f"SDK onlyfans {SDK_VERSION}: {len(calls)} request methods; {len(SIMULATED_ENDPOINTS)} simulated endpoints")
    for key in sorted(SIMULATED_ENDPOINTS):
        entry = catalog[key]
        found = by_route.get((entry["method"], normalise_path(entry["path"])), [])
        if len(found) != 1:
            unmapped.append(f"{key}: {entry['method']} {entry['path']} matches {len(found)} SDK methods")
            continue
        call = found[0]
        notes = Notes()
        data, whole = response_template(call.cast_to, notes)
        sdk_method = f"{resource_paths[call.resource]}.{call.method_name}"
        output[key] = {
            "method": entry["method"],
            "path": entry["path"],
            "sdk_method": sdk_method,
            "response_model": call.cast_to_name,
            "whole_response": whole,
            "data": data,
        }
        free_form = f", {len(notes.free_form)} free-form (Dict/object/Any) fields" if notes.free_form else ""
        print(f"  {key}: {sdk_method} -> {call.cast_to_name}{' (whole response)' if whole else ''}{free_form}")
        for line in notes.unions + notes.cut:
            print(f"      {line}")

    if unmapped:
        sys.exit("Endpoints without exactly one SDK method:\n  " + "\n  ".join(unmapped))
    if empty := [key for key, shape in output.items() if shape["data"] in (None, {}, [], [None], [{}])]:
        sys.exit("Empty templates: " + ", ".join(empty))
    whole = [key for key, shape in output.items() if shape["whole_response"]]
    print(f"Whole-response templates (no `data` field): {len(whole)}")
    for key in whole:
        print(f"  {key}: {output[key]['response_model']}")

    text = json.dumps({"sdk_version": SDK_VERSION, "endpoints": output}, indent=1, ensure_ascii=False) + "\n"
    OUTPUT_FILE.write_text(text, encoding="utf-8")
    print(f"Wrote {len(output)} endpoints ({len(text.encode('utf-8'))} bytes) to {OUTPUT_FILE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
