#!/usr/bin/env python3
"""Generate `onlyfans.json`, the catalog of every OnlyFans endpoint of OnlyFansAPI.

Each catalog entry carries the endpoint's HTTP method and path, a short
description, an access class (read / write / destructive) and a flat JSON Schema
of all its arguments together with where each argument is sent (path, query or
body). The `ofapi` crate embeds the file and turns the entries into tool schemas.

Sources:
  * the shared endpoint list `../shared/ofapi/endpoints.json` (relative to the
    repository root): the authoritative set of endpoints (ids, titles, methods,
    paths, parameter names);
  * the official Python SDK (PyPI package `onlyfans`, import name `onlyfansapi`),
    pinned to `SDK_VERSION` below: parameter types, enums, required flags, wire
    names and descriptions. Its source files are parsed with `ast` (the package
    is imported only to locate and version-check it), so the output depends on
    the SDK version alone;
  * `search_terms.toml` next to this script: hand-written synonyms and example
    questions per category and per endpoint, merged into each entry as
    `search_terms` for endpoint discovery.

Run from the repository root (no network access apart from the pip install):

    python3 -m venv .venv-catalog
    .venv-catalog/bin/pip install onlyfans==0.2.0
    .venv-catalog/bin/python crates/ofapi/catalog/generate.py

The script prints a summary: endpoints matched to an SDK method, endpoints built
from the shared list alone, and every difference between the two sources.
"""

from __future__ import annotations

from collections.abc import Iterator

import ast
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import onlyfansapi

SDK_VERSION = "0.2.0"

CATALOG_DIR = Path(__file__).resolve().parent
REPO_ROOT = CATALOG_DIR.parents[2]  # crates/ofapi/catalog/ -> repository root
ENDPOINTS_FILE = REPO_ROOT.parent / "shared" / "ofapi" / "endpoints.json"
OUTPUT_FILE = CATALOG_DIR / "onlyfans.json"
SEARCH_TERMS_FILE = CATALOG_DIR / "search_terms.toml"
SDK_DIR = Path(onlyfansapi.__file__).resolve().parent

PLATFORM = "onlyfans"
DESCRIPTION_LIMIT = 400
ACCOUNT_DESCRIPTION = "The OnlyFans account ID (acct_…) to act on"
FILE_NOTE = "File upload: sent as a multipart/form-data file part."

HTTP_VERBS = {"_get": "GET", "_post": "POST", "_put": "PUT", "_patch": "PATCH", "_delete": "DELETE"}
# Keyword arguments every SDK method has for transport tuning; never sent to the API.
SDK_PLUMBING = {"self", "extra_headers", "extra_query", "extra_body", "timeout"}

# Access class by HTTP method; ACCESS_EXCEPTIONS overrides it per endpoint.
DEFAULT_ACCESS = {"GET": "read", "DELETE": "destructive", "POST": "write", "PUT": "write", "PATCH": "write"}

# Every endpoint whose access class differs from DEFAULT_ACCESS, with the reason.
# `read` means the call only computes and returns data: nothing changes on the
# OnlyFans account, and nothing persistent is created for the team.
ACCESS_EXCEPTIONS: dict[str, tuple[str, str]] = {
    "analytics-financial.get-profitability": (
        "read", "POST only carries the query: computes revenue, costs and margins for a month"),
    "analytics-financial.get-revenue-forecast": (
        "read", "POST only carries the query: computes a revenue/churn forecast from past data"),
    "analytics-financial.get-transaction-summary": (
        "read", "POST only carries the query: sums transactions for the selected accounts and period"),
    "analytics-financial.get-transactions-by-type": (
        "read", "POST only carries the query: groups transaction totals by type"),
    "analytics-summary.get-earnings-overview": (
        "read", "POST only carries the query: earnings overview by category for a date range"),
    "analytics-summary.get-historical-performance": (
        "read", "POST only carries the query: monthly earnings chart data"),
    "analytics-summary.get-period-comparison": (
        "read", "POST only carries the query: compares the earnings of two periods"),
    "settings.check-username-availability": (
        "read", "only checks whether a username is taken; the account's username is not changed"),
    "media.deprecated-scrape-media-from-the-only-fans-cdn": (
        "read", "copies an existing OnlyFans media file to the API's CDN and returns its URL, "
                "like the Download GET; nothing changes on the OnlyFans account"),
}

# Who may propose and confirm a write (read endpoints: anyone who may ask),
# by category, with the reason. `denied`: the bot refuses the endpoint
# altogether unless the config's `[ofapi] allow_endpoints` names it. A
# category not listed: `member` for writes, `admin` for destructive calls.
CATEGORY_POLICY: dict[str, tuple[str, bool, str]] = {
    "account": ("owner", True, "disconnecting an account ends the team's access to it"),
    "connect-onlyfans-account": ("owner", True, "account credentials and 2FA codes"),
    "payouts": ("owner", True, "money leaves the account (withdrawals, payout schedule)"),
    "webhooks": ("owner", True, "account events are sent to an outside URL"),
    "client-sessions": ("owner", True, "creates a session that acts for the account outside agencybot"),
    "smart-link-postbacks": ("admin", False, "conversion data is sent to an outside URL"),
    "settings": ("admin", False, "profile, prices, blocked countries, DRM: the account's public face"),
    "subscription-bundles": ("admin", False, "subscription prices"),
    "promotions": ("admin", False, "subscription prices"),
    "data-exports": ("admin", False, "bulk copies of the account's data"),
    "users": ("admin", False, "blocking, restricting and subscribing act on other accounts"),
    "release-forms": ("admin", False, "legal documents"),
}
DEFAULT_WRITE_ROLE = "member"
DESTRUCTIVE_ROLE = "admin"


def policy(category: str, access: str) -> tuple[str, bool]:
    """(role that may propose and confirm, denied unless allowed in the config)."""
    if access == "read":
        return "viewer", False
    if category in CATEGORY_POLICY:
        role, denied, _ = CATEGORY_POLICY[category]
        return role, denied
    return (DESTRUCTIVE_ROLE if access == "destructive" else DEFAULT_WRITE_ROLE), False


# Shared-list endpoints that the SDK implements under a different method or
# path, mapped to the SDK method to use (module.Class.method, as printed in the
# summary). Empty for SDK 0.2.0: every SDK method matches a shared-list endpoint
# by method and path, so the shared-list endpoints left without a match have no
# SDK counterpart at all and are built from the shared list.
SDK_PATH_EXCEPTIONS: dict[str, str] = {}


# --------------------------------------------------------------------------
# Reading the SDK source
# --------------------------------------------------------------------------


class SourceModule:
    """A parsed SDK source file, able to resolve names imported into it."""

    _cache: dict[Path, SourceModule] = {}

    def __init__(self, path: Path) -> None:
        self.path = path
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
        # Local name -> file of a module imported with `from ..types import x_params`.
        self.module_imports: dict[str, Path] = {}
        for node in tree.body:
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            package = path.parent
            for _ in range(node.level - 1):
                package = package.parent
            if node.module:
                package = package.joinpath(*node.module.split("."))
            for alias in node.names:
                candidate = package / f"{alias.name}.py"
                if candidate.is_file():
                    self.module_imports[alias.asname or alias.name] = candidate

    @classmethod
    def load(cls, path: Path) -> SourceModule:
        if path not in cls._cache:
            cls._cache[path] = cls(path)
        return cls._cache[path]

    def relative_name(self) -> str:
        return self.path.relative_to(SDK_DIR).with_suffix("").as_posix().replace("/", ".")

    def resolve_class(self, expr: ast.expr) -> tuple[SourceModule, ast.ClassDef] | None:
        """Resolve `Name` or `module.Name` to a class definition in the SDK source."""
        if isinstance(expr, ast.Name) and expr.id in self.classes:
            return self, self.classes[expr.id]
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            target = self.module_imports.get(expr.value.id)
            if target is not None:
                module = SourceModule.load(target)
                if expr.attr in module.classes:
                    return module, module.classes[expr.attr]
        return None


@dataclass
class TypedField:
    """One field of a params TypedDict."""

    wire_name: str  # name on the wire (PropertyInfo alias, else the Python name)
    annotation: ast.expr  # the type with Required/Annotated stripped
    required: bool
    doc: str | None


def typed_dict_fields(cls: ast.ClassDef) -> dict[str, TypedField]:
    """The fields of a TypedDict by Python name, with the doc string written below each one."""
    total = not any(kw.arg == "total" and ast.literal_eval(kw.value) is False for kw in cls.keywords)
    fields: dict[str, TypedField] = {}
    for stmt, following in zip(cls.body, cls.body[1:] + [None]):
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        annotation, required, alias = unwrap_field_annotation(stmt.annotation)
        has_doc = (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                   and isinstance(following.value.value, str))
        fields[stmt.target.id] = TypedField(
            wire_name=alias or stmt.target.id,
            annotation=annotation,
            required=total if required is None else required,
            doc=normalise(following.value.value) if has_doc else None,
        )
    return fields


def type_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def unwrap_field_annotation(expr: ast.expr) -> tuple[ast.expr, bool | None, str | None]:
    """Strip `Required[...]`, `NotRequired[...]` and `Annotated[..., PropertyInfo(alias=...)]`."""
    required: bool | None = None
    alias: str | None = None
    while isinstance(expr, ast.Subscript):
        wrapper = type_name(expr.value)
        if wrapper in ("Required", "NotRequired"):
            required = wrapper == "Required"
            expr = expr.slice
        elif wrapper == "Annotated":
            inner, *metadata = expr.slice.elts
            for meta in metadata:
                if isinstance(meta, ast.Call) and type_name(meta.func) == "PropertyInfo":
                    for kw in meta.keywords:
                        if kw.arg == "alias":
                            alias = kw.value.value
            expr = inner
        else:
            break
    return expr, required, alias


def union_members(expr: ast.expr) -> list[ast.expr]:
    """Flatten `A | B`, `Union[A, B]` and `Optional[A]`, dropping None (optionality is `required`'s job)."""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        return union_members(expr.left) + union_members(expr.right)
    if isinstance(expr, ast.Subscript) and type_name(expr.value) in ("Union", "Optional"):
        elts = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
        return [member for elt in elts for member in union_members(elt)]
    if isinstance(expr, ast.Constant) and expr.value is None:
        return []
    return [expr]


SCALARS = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
SEQUENCES = {"List", "Sequence", "SequenceNotStr", "Iterable", "list"}


def json_schema(expr: ast.expr, module: SourceModule) -> dict:
    """Translate a Python type annotation (as source) into a JSON Schema."""
    members = union_members(expr)
    if len(members) != 1:
        return {"anyOf": [json_schema(member, module) for member in members]}
    expr = members[0]
    if isinstance(expr, ast.Subscript):
        name = type_name(expr.value)
        args = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
        if name == "Literal":
            values = [arg.value for arg in args]
            types = sorted({SCALARS[type(value).__name__] for value in values})
            return {"type": types[0] if len(types) == 1 else types, "enum": values}
        if name in SEQUENCES:
            return {"type": "array", "items": json_schema(args[0], module)}
        if name in ("Dict", "Mapping", "dict"):
            return {"type": "object"}
        raise ValueError(f"{module.relative_name()}: unsupported type {ast.unparse(expr)}")
    name = type_name(expr)
    if name in SCALARS:
        return {"type": SCALARS[name]}
    if name == "object":
        # Stainless writes `object` where the API spec gives no type at all
        # (e.g. media IDs that may be strings or integers), so any value is allowed.
        return {}
    if name == "FileTypes":
        return {"type": "string", "description": FILE_NOTE}
    resolved = module.resolve_class(expr)
    if resolved is not None:
        return object_schema(*resolved)
    raise ValueError(f"{module.relative_name()}: unsupported type {ast.unparse(expr)}")


def describe(schema: dict, text: str) -> dict:
    """Set the description of a schema, keeping a note its type brought (file uploads) after the text."""
    schema["description"] = f"{text} {schema['description']}" if "description" in schema else text
    return schema


def object_schema(module: SourceModule, cls: ast.ClassDef) -> dict:
    """JSON Schema of a nested TypedDict (e.g. a `filter` object or story overlays)."""
    properties = {}
    required = []
    for typed in typed_dict_fields(cls).values():
        properties[typed.wire_name] = describe(json_schema(typed.annotation, module),
                                               typed.doc or f"Field `{typed.wire_name}`")
        if typed.required:
            required.append(typed.wire_name)
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


@dataclass
class Param:
    """One argument of an endpoint."""

    wire_name: str
    location: str  # path | query | body
    schema: dict
    required: bool
    description: str | None


@dataclass
class SdkMethod:
    ref: str  # e.g. resources.tracking_links.tracking_links.TrackingLinksResource.create
    method: str
    path: str
    description: str
    params: list[Param]
    unsent: list[str]  # arguments sent neither in the path, the query nor the body (headers)


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Stainless docstring into its description and the `Args:` entries."""
    lines = doc.splitlines()
    try:
        args_at = next(i for i, line in enumerate(lines) if line.strip() == "Args:")
    except StopIteration:
        return doc, {}
    args: dict[str, list[str]] = {}
    current = None
    for line in lines[args_at + 1:]:
        # Entries are indented two spaces; their continuation lines are indented further.
        match = re.match(r"^  (\w+):\s*(.*)$", line)
        if match:
            current = match.group(1)
            args[current] = [match.group(2)]
        elif current is not None:
            args[current].append(line)
    return "\n".join(lines[:args_at]), {name: normalise(" ".join(text)) for name, text in args.items()}


def find_request_call(fn: ast.FunctionDef) -> ast.Call | None:
    calls = [node for node in ast.walk(fn)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"
             and node.func.attr in HTTP_VERBS]
    if len(calls) > 1:
        raise ValueError(f"{fn.name}: several requests in one method")
    return calls[0] if calls else None


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def transformed_params(fn: ast.FunctionDef, expr: ast.expr | None) -> tuple[dict[str, str], ast.expr | None]:
    """For `maybe_transform({...}, x_params.XParams)`: the dict's key -> kwarg mapping and the TypedDict."""
    if expr is None:
        return {}, None
    if not (isinstance(expr, ast.Call) and type_name(expr.func) == "maybe_transform"):
        raise ValueError(f"{fn.name}: unexpected request argument {ast.unparse(expr)}")
    data, params_class = expr.args
    if isinstance(data, ast.Name):
        # Multipart uploads first build `body = deepcopy_with_paths({...}, ...)`.
        assignment = next(node for node in ast.walk(fn) if isinstance(node, ast.Assign)
                          and any(isinstance(t, ast.Name) and t.id == data.id for t in node.targets))
        data = next(node for node in ast.walk(assignment.value) if isinstance(node, ast.Dict))
    keys = {key.value: value.id for key, value in zip(data.keys, data.values)}
    return keys, params_class


def argument_names(fn: ast.FunctionDef) -> list[str]:
    """The method's API arguments in signature order."""
    return [arg.arg for arg in fn.args.args + fn.args.kwonlyargs if arg.arg not in SDK_PLUMBING]


def sdk_method(module: SourceModule, cls: ast.ClassDef, fn: ast.FunctionDef, call: ast.Call) -> SdkMethod:
    target = call.args[0]
    if isinstance(target, ast.Call) and type_name(target.func) == "path_template":
        template = target.args[0].value
        path_args = {kw.arg: kw.value.id for kw in target.keywords}
    else:
        template, path_args = target.value, {}

    body_keys, body_class = transformed_params(fn, keyword(call, "body"))
    options = keyword(call, "options")
    query_keys, query_class = transformed_params(fn, keyword(options, "query") if options is not None else None)

    description, arg_docs = parse_docstring(ast.get_docstring(fn) or "")
    arguments = argument_names(fn)

    path_params = [
        Param(wire_name, "path", {"type": "string"}, True, arg_docs.get(path_args[wire_name]))
        for wire_name in re.findall(r"{(\w+)}", template)
    ]
    # Query and body parameters keep the signature order (path parameters come first).
    # Their types, required flags and wire names come from the params TypedDict that
    # maybe_transform applies; the method's Args section describes them best.
    other_params: list[tuple[int, Param]] = []
    for location, keys, params_class in (("query", query_keys, query_class), ("body", body_keys, body_class)):
        if params_class is None:
            continue
        resolved = module.resolve_class(params_class)
        if resolved is None:
            raise ValueError(f"{fn.name}: cannot resolve {ast.unparse(params_class)}")
        params_module, params_cls = resolved
        fields = typed_dict_fields(params_cls)
        for key, python_name in keys.items():
            typed = fields[key]
            param = Param(typed.wire_name, location, json_schema(typed.annotation, params_module), typed.required,
                          arg_docs.get(python_name) or typed.doc)
            other_params.append((arguments.index(python_name), param))
    other_params.sort(key=lambda item: item[0])

    sent = set(path_args.values()) | set(query_keys.values()) | set(body_keys.values())
    return SdkMethod(
        ref=f"{module.relative_name()}.{cls.name}.{fn.name}",
        method=HTTP_VERBS[call.func.attr],
        path=template,
        description=description,
        params=path_params + [param for _, param in other_params],
        unsent=[name for name in arguments if name not in sent],
    )


def resource_requests() -> Iterator[tuple[SourceModule, ast.ClassDef, ast.FunctionDef, ast.Call]]:
    """Every request method of the synchronous resource classes (the async ones
    mirror them), with the `self._get(...)`-style call it makes."""
    for path in sorted((SDK_DIR / "resources").rglob("*.py")):
        module = SourceModule.load(path)
        for cls in module.classes.values():
            if not cls.name.endswith("Resource") or cls.name.startswith("Async"):
                continue
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and (call := find_request_call(fn)) is not None:
                    yield module, cls, fn, call


def sdk_methods() -> list[SdkMethod]:
    return [sdk_method(module, cls, fn, call) for module, cls, fn, call in resource_requests()]


def normalise(text: str) -> str:
    """Text on one line, without the HTML tags (`<code>`, `<Callout ...>`) some SDK docs carry."""
    return " ".join(re.sub(r"</?[A-Za-z][^>]*>", "", text).split())


# --------------------------------------------------------------------------
# Building the catalog
# --------------------------------------------------------------------------


def normalise_path(path: str) -> str:
    """Path with every parameter name blanked, so `{id}` and `{account_id}` compare equal."""
    return re.sub(r"{\w+}", "{}", path)


def shorten(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """Whitespace-normalised text, cut at the last sentence end that fits in `limit`."""
    text = normalise(text)
    if len(text) <= limit:
        return text
    # A sentence ends at . ! or ? followed by a space, except in "e.g." and "i.e.".
    ends = [m.end() for m in re.finditer(r"(?<!\be\.g)(?<!\bi\.e)[.!?](?= )", text[:limit + 1])]
    if ends:
        return text[:ends[-1]]
    return text[:limit].rsplit(" ", 1)[0] + " …"


def docs_params(endpoint: dict) -> list[Param]:
    """Parameters of an endpoint the SDK lacks, from the shared list (path parameters first)."""
    template_order = re.findall(r"{(\w+)}", endpoint["path"])
    params = []
    for raw in endpoint["params"]:
        if raw["in"] == "path":
            params.append(Param(raw["name"], "path", {"type": "string"}, True, None))
            continue
        schema = {"type": raw["type"]}
        if raw.get("enum"):
            schema["enum"] = raw["enum"]
        params.append(Param(raw["name"], raw["in"], schema, raw["required"], None))
    # A stable sort: query and body parameters keep the shared list's order.
    return sorted(params, key=lambda p: (0, template_order.index(p.wire_name)) if p.location == "path" else (1, 0))


def fallback_description(name: str, location: str) -> str:
    """Description of a parameter that neither source describes."""
    return f"{location.capitalize()} parameter `{name}`"


def property_schema(param: Param) -> dict:
    if param.description:
        text = param.description
    elif param.location == "path" and param.wire_name == "account":
        text = ACCOUNT_DESCRIPTION
    else:
        text = fallback_description(param.wire_name, param.location)
    return describe(dict(param.schema), text)


def catalog_entry(endpoint: dict, sdk: SdkMethod | None, search_terms: list[str]) -> dict:
    if sdk is not None:
        method, path, params = sdk.method, sdk.path, sdk.params
        description = shorten(sdk.description) or shorten(endpoint["description"])
    else:
        method, path, params = endpoint["method"], endpoint["path"], docs_params(endpoint)
        description = shorten(endpoint["description"])

    properties: dict[str, dict] = {}
    locations: dict[str, str] = {}
    required: list[str] = []
    for param in params:
        if param.wire_name in properties:
            raise ValueError(f"{endpoint['id']}: parameter `{param.wire_name}` sent in two places")
        properties[param.wire_name] = property_schema(param)
        locations[param.wire_name] = param.location
        if param.required:
            required.append(param.wire_name)

    access = ACCESS_EXCEPTIONS.get(endpoint["id"], (DEFAULT_ACCESS[method],))[0]
    role, denied = policy(endpoint["category"], access)
    return {
        "id": endpoint["id"],
        "title": endpoint["title"],
        "description": description,
        "search_terms": search_terms,
        "category": endpoint["category"],
        "method": method,
        "path": path,
        "access": access,
        "confirm_role": role,
        "denied_by_default": denied,
        "schema": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        },
        "locations": locations,
        "source": "sdk" if sdk is not None else "docs",
    }


def match_endpoints(endpoints: list[dict], methods: list[SdkMethod]) -> dict[str, list[SdkMethod]]:
    """The SDK methods implementing each shared-list endpoint; exactly one is a match."""
    by_ref = {m.ref: m for m in methods}
    by_route: dict[tuple[str, str], list[SdkMethod]] = {}
    for m in methods:
        by_route.setdefault((m.method, normalise_path(m.path)), []).append(m)
    return {
        endpoint["id"]: [by_ref[SDK_PATH_EXCEPTIONS[endpoint["id"]]]] if endpoint["id"] in SDK_PATH_EXCEPTIONS
        else by_route.get((endpoint["method"], normalise_path(endpoint["path"])), [])
        for endpoint in endpoints
    }


# --------------------------------------------------------------------------
# Search terms
# --------------------------------------------------------------------------


@dataclass
class SearchTerms:
    """The terms of `search_terms.toml`: per category and per endpoint id."""

    categories: dict[str, list[str]]
    endpoints: dict[str, list[str]]

    def for_entry(self, endpoint_id: str, category: str) -> list[str]:
        """Category terms, then the endpoint's, without repeats (compared case-insensitively), order kept."""
        merged: list[str] = []
        seen: set[str] = set()
        for term in self.categories.get(category, []) + self.endpoints.get(endpoint_id, []):
            if term.casefold() not in seen:
                seen.add(term.casefold())
                merged.append(term)
        return merged


def load_search_terms(endpoints: list[dict]) -> SearchTerms:
    """Read and check `search_terms.toml` against the shared list's categories and ids.

    Rejected with an error naming the table: unknown top-level keys, categories or
    endpoint ids; tables with keys other than `terms`; `terms` that is not a
    non-empty list of strings; empty terms, terms with leading, trailing or
    repeated whitespace, and a term given twice in one list (case-insensitively).
    """
    name = SEARCH_TERMS_FILE.name
    if not SEARCH_TERMS_FILE.is_file():
        sys.exit(f"{name} not found next to generate.py")
    try:
        data = tomllib.loads(SEARCH_TERMS_FILE.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        sys.exit(f"{name}: {error}")
    known = {"category": {e["category"] for e in endpoints}, "endpoint": {e["id"] for e in endpoints}}
    errors: list[str] = []
    for key in data:
        if key not in known:
            errors.append(f"unknown top-level table [{key}] (expected [category.<name>] or [endpoint.\"<id>\"])")
    tables: dict[str, dict[str, list[str]]] = {"category": {}, "endpoint": {}}
    for kind, names in known.items():
        section = data.get(kind, {})
        if not isinstance(section, dict):
            errors.append(f"`{kind}` must be a table of tables")
            continue
        for key, table in section.items():
            where = f"[{kind}.{key}]" if kind == "category" else f'[{kind}."{key}"]'
            if key not in names:
                errors.append(f"{where}: unknown {kind} {'name' if kind == 'category' else 'id'} `{key}`")
                continue
            if not isinstance(table, dict) or set(table) != {"terms"}:
                extra = sorted(set(table) - {"terms"}) if isinstance(table, dict) else []
                errors.append(f"{where}: must hold exactly one key, `terms`"
                              + (f" (found {', '.join(extra)})" if extra else ""))
                continue
            terms = table["terms"]
            if not isinstance(terms, list) or not terms or not all(isinstance(t, str) for t in terms):
                errors.append(f"{where}: `terms` must be a non-empty list of strings")
                continue
            seen: set[str] = set()
            for term in terms:
                if not term.strip():
                    errors.append(f"{where}: empty term")
                elif term != " ".join(term.split()):
                    errors.append(f"{where}: term {term!r} has leading, trailing or repeated whitespace")
                elif term.casefold() in seen:
                    errors.append(f"{where}: duplicate term {term!r}")
                seen.add(term.casefold())
            tables[kind][key] = terms
    if errors:
        sys.exit(f"{name}: {len(errors)} error(s):\n  " + "\n  ".join(errors))
    return SearchTerms(categories=tables["category"], endpoints=tables["endpoint"])


# --------------------------------------------------------------------------
# Summary and checks
# --------------------------------------------------------------------------


def param_differences(endpoint: dict, sdk: SdkMethod) -> list[str]:
    """How the shared list's parameters differ from the SDK's (path parameters aside)."""
    shared = {p["name"]: p for p in endpoint["params"] if p["in"] != "path"}
    ours = {p.wire_name: p for p in sdk.params if p.location != "path"}

    def in_sdk(name: str) -> bool:
        # The shared list flattens objects (`filter.online`); the SDK nests them.
        parent, _, child = name.partition(".")
        return name in ours or (parent in ours and child in ours[parent].schema.get("properties", {}))

    notes = []
    if only_shared := [f"{n} ({shared[n]['in']})" for n in shared if not in_sdk(n)]:
        notes.append("only in shared list: " + ", ".join(only_shared))
    if only_sdk := [f"{n} ({ours[n].location})" for n in ours if n not in shared]:
        notes.append("only in SDK: " + ", ".join(only_sdk))
    common = [n for n in ours if n in shared]
    if moved := [f"{n} {shared[n]['in']}->{ours[n].location}" for n in common if shared[n]["in"] != ours[n].location]:
        notes.append("location: " + ", ".join(moved))
    if flipped := [f"{n} {'required' if ours[n].required else 'optional'} in SDK"
                   for n in common if shared[n]["required"] != ours[n].required]:
        notes.append("required: " + ", ".join(flipped))
    return notes


def print_summary(endpoints: list[dict], methods: list[SdkMethod], candidates: dict[str, list[SdkMethod]],
                  catalog: list[dict]) -> None:
    def section(title: str, lines: list[str]) -> None:
        print(f"{title}: {len(lines)}")
        for line in lines:
            print(f"  {line}")

    paired = [(e, candidates[e["id"]][0]) for e in endpoints if len(candidates[e["id"]]) == 1]
    matched_refs = {sdk.ref for _, sdk in paired}
    print(f"SDK onlyfans {SDK_VERSION}: {len(methods)} request methods")
    print(f"Shared list: {len(endpoints)} {PLATFORM} endpoints")
    print(f"Matched to an SDK method (source sdk): {len(paired)}")
    section("Built from the shared list, no SDK method (source docs)", [
        f"{e['id']}: {e['method']} {e['path']} (path_confidence {e['path_confidence']})"
        for e in endpoints if not candidates[e["id"]]])
    section("Built from the shared list, several SDK methods match (source docs)", [
        f"{e['id']}: {e['method']} {e['path']} -> " + ", ".join(m.ref for m in candidates[e["id"]])
        for e in endpoints if len(candidates[e["id"]]) > 1])
    section("SDK methods matching no shared-list endpoint", [
        f"{m.ref}: {m.method} {m.path}" for m in methods if m.ref not in matched_refs])
    section("Method or path taken from the SDK (SDK_PATH_EXCEPTIONS)", [
        f"{e['id']}: {e['method']} {e['path']} -> {sdk.method} {sdk.path}"
        for e, sdk in paired if e["id"] in SDK_PATH_EXCEPTIONS])
    section("Path parameter names differing (SDK names used)", [
        f"{e['id']}: {e['path']} -> {sdk.path}"
        for e, sdk in paired if sdk.path != e["path"] and e["id"] not in SDK_PATH_EXCEPTIONS])
    section("Parameter differences, shared list vs SDK (SDK used)", [
        f"{e['id']}: " + "; ".join(notes) for e, sdk in paired if (notes := param_differences(e, sdk))])
    section("SDK arguments not sent as path/query/body parameters (left out)", [
        f"{e['id']}: " + ", ".join(sdk.unsent) for e, sdk in paired if sdk.unsent])
    section("Access exceptions", [
        f"{key}: {access} ({reason})" for key, (access, reason) in ACCESS_EXCEPTIONS.items()])
    section("Write policy by category (CATEGORY_POLICY)", [
        f"{category}: {role}{', denied unless allowed' if denied else ''} ({reason})"
        for category, (role, denied, reason) in CATEGORY_POLICY.items()])
    counts = [f"{access} {sum(entry['access'] == access for entry in catalog)}"
              for access in ("read", "write", "destructive")]
    print("Access classes: " + ", ".join(counts))

    def undescribed(entry: dict) -> list[str]:
        properties = entry["schema"]["properties"]
        return [name for name, location in entry["locations"].items()
                if location != "path" and properties[name]["description"].startswith(
                    fallback_description(name, location))]

    section("Query/body parameters without a description in either source", [
        f"{entry['id']}: " + ", ".join(missing) for entry in catalog if (missing := undescribed(entry))])


def check_catalog(catalog: list[dict], endpoints: list[dict]) -> None:
    """Stop with an error if the catalog breaks an invariant the `ofapi` crate relies on."""
    def require(condition: bool, message: str) -> None:
        if not condition:
            sys.exit(f"catalog check failed: {message}")

    ids = [entry["id"] for entry in catalog]
    require(len(ids) == len(set(ids)), "duplicate ids")
    require(set(ids) == {e["id"] for e in endpoints}, "catalog ids differ from the shared list")
    categories = {entry["category"] for entry in catalog}
    for category in CATEGORY_POLICY:
        require(category in categories, f"CATEGORY_POLICY names unknown category {category}")
    for key, (access, _) in ACCESS_EXCEPTIONS.items():
        require(key in ids, f"ACCESS_EXCEPTIONS names unknown endpoint {key}")
        require(access != DEFAULT_ACCESS[catalog[ids.index(key)]["method"]],
                f"{key}: access exception equals the method default")
    for entry in catalog:
        schema = entry["schema"]
        require(set(entry["locations"]) == set(schema["properties"]),
                f"{entry['id']}: locations differ from properties")
        require(set(schema["required"]) <= set(schema["properties"]), f"{entry['id']}: unknown required property")
        for name in re.findall(r"{(\w+)}", entry["path"]):
            require(entry["locations"].get(name) == "path" and name in schema["required"],
                    f"{entry['id']}: path parameter `{name}` is not a required path property")
        require(all(prop.get("description") for prop in schema["properties"].values()),
                f"{entry['id']}: property without description")
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        print("jsonschema not installed: schemas not checked against the 2020-12 meta-schema")
        return
    for entry in catalog:
        Draft202012Validator.check_schema(entry["schema"])
    print("All schemas valid against the JSON Schema 2020-12 meta-schema")


def main() -> None:
    if onlyfansapi.__version__ != SDK_VERSION:
        sys.exit(f"onlyfansapi {onlyfansapi.__version__} is installed, the catalog is pinned to {SDK_VERSION}")
    endpoints = sorted((e for e in json.loads(ENDPOINTS_FILE.read_text(encoding="utf-8"))
                        if e["platform"] == PLATFORM), key=lambda e: e["id"])
    methods = sdk_methods()
    candidates = match_endpoints(endpoints, methods)
    search_terms = load_search_terms(endpoints)
    catalog = []
    for endpoint in endpoints:
        found = candidates[endpoint["id"]]
        # Several matching SDK methods would be as doubtful as none: use the shared list.
        catalog.append(catalog_entry(endpoint, found[0] if len(found) == 1 else None,
                                     search_terms.for_entry(endpoint["id"], endpoint["category"])))

    print_summary(endpoints, methods, candidates, catalog)
    categories = {entry["category"] for entry in catalog}
    print(f"Search terms ({SEARCH_TERMS_FILE.name}): {len(search_terms.categories)} of {len(categories)} "
          f"categories, {len(search_terms.endpoints)} of {len(catalog)} endpoints with their own terms, "
          f"{sum(not entry['search_terms'] for entry in catalog)} endpoints with none")
    check_catalog(catalog, endpoints)
    OUTPUT_FILE.write_text(json.dumps(catalog, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Wrote {len(catalog)} endpoints to {OUTPUT_FILE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
