#!/usr/bin/env python3
"""SDK conformance check for the local OnlyFansAPI sandbox.

Drives the sandbox with the official OnlyFansAPI Python SDK (PyPI package
`onlyfans`, pinned to 0.2.0, imported as `onlyfansapi`) and checks that the SDK
works against it and that every response carries the fields the SDK's response
models declare.

Run by a Rust integration test as

    <venv>/bin/python crates/ofapi/tests/sdk_conformance.py

with the environment

    OFAPI_SANDBOX_URL   base URL of the running sandbox, e.g. http://127.0.0.1:PORT
    OFAPI_SANDBOX_KEY   an API key the sandbox accepts

The venv needs only `pip install onlyfans==0.2.0`; nothing but the sandbox URL
is contacted.

Steps (each one line of output, PASS or FAIL):
  1. accounts.list returns >= 1 account (first id, `acct_...`, is used below);
     whoami.retrieve is checked too.
  2. fans.list_all is paged to the end by following `_pagination.next_page`
     (its query string is fed back into the SDK call); > 0 fans, ids unique,
     `next_page` null exactly when `data.hasMore` is false, and a second walk
     with another page size yields the same ids.
  3. statistics.statements.get_earnings for the last 30 days.
  4. chats.list; chats.messages.send to the first fan's chat (chat id = fan id),
     then chats.messages.list must contain the text (and the sent id).
  5. tracking_links.create, found in tracking_links.list, tracking_links.retrieve,
     tracking_links.delete, then gone from tracking_links.list(with_deleted=0).
  6. mass_messaging.send to the first fan, found in mass_messaging.list and
     mass_messaging.retrieve, mass_messaging.delete (unsend), then it is gone
     from (or isCanceled in) the list and retrieve 404s (or isCanceled).
  7. webhooks.create (scoped to the account, with a signing secret), found in
     webhooks.list, webhooks.retrieve, webhooks.update (disabled, other URL),
     webhooks.list_events, webhooks.delete, then retrieve 404s.
  8. a client with a wrong API key gets onlyfansapi.AuthenticationError (401).

Every response is checked twice:
  * the SDK parses it with `_strict_response_validation=True` (pydantic
    validation of the declared model; a failure raises APIResponseValidationError);
  * `check_model` walks the declared model against the raw JSON: every field the
    model declares (by its wire alias, e.g. `_meta`, `hasMore`) must be present,
    recursively through nested models and list items. All fields of this SDK's
    models are Optional, so null is accepted, but the key must be there, and a
    non-null value must have the declared JSON type (int must be an integer,
    not 1.0 or "1"; float accepts integers; str must be a string; bool a bool).

Output: one PASS/FAIL line per step, the problems of failed steps (with JSON
paths such as `fans.list_all: data.list[3].subscribedOnData.price: missing`),
and finally `N passed, M failed`. Exit status 0 only if all steps passed.
SDK retries are off (max_retries=0); a 429 is waited out here (Retry-After,
capped) at most a few times per call and reported.
"""

from __future__ import annotations

import datetime
import inspect
import os
import re
import sys
import time
import traceback
import typing
import uuid
from typing import Any, Callable, Dict, List, Literal, Union, get_args, get_origin
from urllib.parse import parse_qsl, urlsplit

import pydantic

import onlyfansapi
from onlyfansapi import (
    APIError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    NotFoundError,
    OnlyFansAPI,
    RateLimitError,
)

SDK_VERSION = "0.2.0"
FAN_PAGE_SIZE = 7  # deliberately odd so page edges get exercised (API max is 20)
MAX_PAGES = 1000
MAX_429_WAITS = 5
MAX_429_SLEEP = 10.0

try:  # Python >= 3.10 `X | Y` unions
    from types import UnionType
except ImportError:  # pragma: no cover
    UnionType = None  # type: ignore[assignment,misc]


# --------------------------------------------------------------------------
# Model conformance check
# --------------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_union(tp: Any) -> bool:
    origin = get_origin(tp)
    return origin is Union or (UnionType is not None and origin is UnionType)


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def check_value(tp: Any, value: Any, path: str, out: List[str]) -> None:
    """Append to `out` every way `value` (raw JSON) fails declared type `tp`."""
    where = path or "<root>"
    if tp is Any or tp is object:
        return
    if _is_union(tp):
        members = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            if len(members) < len(get_args(tp)):
                return  # Optional[...] and null: fine
            out.append(f"{where}: null, expected {_type_name(tp)}")
            return
        if len(members) == 1:
            check_value(members[0], value, path, out)
            return
        best: List[str] | None = None
        for member in members:  # a real union: the closest member wins
            found: List[str] = []
            check_value(member, value, path, found)
            if not found:
                return
            if best is None or len(found) < len(best):
                best = found
        out.extend(best or [])
        return
    if value is None:
        out.append(f"{where}: null, but the field is not Optional")
        return
    origin = get_origin(tp)
    if origin is Literal:
        if value not in get_args(tp):
            out.append(f"{where}: {value!r} not one of {list(get_args(tp))}")
        return
    if origin in (list, List):
        if not isinstance(value, list):
            out.append(f"{where}: expected array, got {_json_type(value)}")
            return
        (item_tp,) = get_args(tp) or (Any,)
        for i, item in enumerate(value):
            check_value(item_tp, item, f"{path}[{i}]", out)
        return
    if origin in (dict, Dict):
        if not isinstance(value, dict):
            out.append(f"{where}: expected object, got {_json_type(value)}")
            return
        args = get_args(tp)
        if len(args) == 2:
            for key, item in value.items():
                check_value(args[1], item, f"{path}[{key!r}]", out)
        return
    if inspect.isclass(tp) and issubclass(tp, pydantic.BaseModel):
        if not isinstance(value, dict):
            out.append(f"{where}: expected object ({tp.__name__}), got {_json_type(value)}")
            return
        for name, field in tp.model_fields.items():
            key = field.alias or name
            if key not in value:
                out.append(f"{_join(path, key)}: missing")
            else:
                check_value(field.annotation, value[key], _join(path, key), out)
        return
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif tp is str:
        ok = isinstance(value, str)
    else:
        out.append(f"{where}: checker cannot handle declared type {_type_name(tp)}")
        return
    if not ok:
        out.append(f"{where}: expected {_type_name(tp)}, got {_json_type(value)} {_short(value)}")


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_model(model_cls: Any, raw: Any, label: str) -> List[str]:
    """Check raw JSON `raw` against SDK response type `model_cls`.

    Returns one `label: path: what` string per problem, e.g.
    `fans.list_all: data.list[3].subscribedOnData.price: missing`.
    """
    found: List[str] = []
    check_value(model_cls, raw, "", found)
    return [f"{label}: {problem}" for problem in found]


def fold(problems: List[str]) -> List[str]:
    """Fold repeats that differ only in list index or page number."""
    groups: Dict[str, List[str]] = {}
    for problem in problems:
        groups.setdefault(re.sub(r"\[\d+\]|page \d+", "#", problem), []).append(problem)
    return [
        same[0] + (f" (and {len(same) - 1} more like it)" if len(same) > 1 else "")
        for same in groups.values()
    ]


# --------------------------------------------------------------------------
# Calling the SDK
# --------------------------------------------------------------------------


class StepFailed(Exception):
    """Stop the current step; the message is reported as a problem."""


class Step:
    def __init__(self) -> None:
        self.problems: List[str] = []
        self.waits_429 = 0

    def check(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.problems.append(problem)
        return ok

    def require(self, ok: bool, problem: str) -> None:
        if not ok:
            raise StepFailed(problem)

    def call(self, label: str, resource: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call `resource.<method>` through `.with_raw_response`.

        Non-2xx answers raise the SDK's exception (a 429 is waited out a few
        times first). Checks the content type, `check_model` and the SDK's
        strict parse; returns the raw JSON.
        """
        declared = typing.get_type_hints(getattr(resource, method))["return"]
        raw_method = getattr(resource.with_raw_response, method)
        for attempt in range(MAX_429_WAITS + 1):
            try:
                response = raw_method(*args, **kwargs)
                break
            except RateLimitError as err:
                if attempt == MAX_429_WAITS:
                    raise
                self.waits_429 += 1
                time.sleep(_retry_after(err))
        content_type = response.headers.get("content-type", "")
        self.check(
            content_type.split(";")[0].strip() == "application/json",
            f"{label}: Content-Type is {content_type!r}, expected application/json",
        )
        raw = response.json()
        problems = check_model(declared, raw, label)
        try:
            response.parse()  # strict client: pydantic-validates the declared model
        except APIResponseValidationError as err:
            # check_model is stricter than pydantic's lax mode, so pydantic's
            # complaints are only shown when check_model found nothing.
            if not problems:
                problems = [f"{label}: SDK validation: {err.message}"]
                if isinstance(err.__cause__, pydantic.ValidationError):
                    problems = [
                        f"{label}: SDK validation: {_loc(error['loc'])}: {error['msg']}"
                        for error in err.__cause__.errors()
                    ]
        self.problems.extend(problems)
        return raw


def _loc(parts: Any) -> str:
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)
    return text.lstrip(".") or "<root>"


def _retry_after(err: APIStatusError) -> float:
    headers = err.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return min(max(float(headers[name]) * scale, 0.0), MAX_429_SLEEP)
        except (KeyError, ValueError):
            continue
    return 1.0


def paginate(
    step: Step,
    label: str,
    resource: Any,
    method: str,
    path: str,
    items: Callable[[Any], List[Any]],
    *args: Any,
    **kwargs: Any,
) -> typing.Tuple[List[Any], int]:
    """Walk a limit/offset list by following `_pagination.next_page`.

    The first call uses `kwargs`; every next call uses only the query string of
    `next_page` (limit/offset as SDK kwargs, anything else as extra_query),
    whose path must be `path`. Checks `next_page` null <=> `data.hasMore` false.
    Returns (all items, number of pages).
    """
    collected: List[Any] = []
    seen_urls = set()
    for page in range(MAX_PAGES):
        raw = step.call(f"{label} page {page + 1}", resource, method, *args, **kwargs)
        step.require(isinstance(raw, dict), f"{label}: response is not a JSON object")
        page_items = items(raw)
        step.require(isinstance(page_items, list), f"{label} page {page + 1}: item list missing")
        collected.extend(page_items)
        next_page = (raw.get("_pagination") or {}).get("next_page")
        data = raw.get("data")
        has_more = data.get("hasMore") if isinstance(data, dict) else None
        if has_more is not None:
            step.check(
                has_more == (next_page is not None),
                f"{label} page {page + 1}: data.hasMore={has_more} but _pagination.next_page={next_page!r}",
            )
        if next_page is None:
            return collected, page + 1
        step.require(isinstance(next_page, str), f"{label}: next_page is not a string: {next_page!r}")
        step.require(next_page not in seen_urls, f"{label}: next_page repeats: {next_page}")
        seen_urls.add(next_page)
        url = urlsplit(next_page)
        step.require(
            url.path.rstrip("/") == path,
            f"{label}: next_page {next_page!r} does not point at {path}",
        )
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        kwargs = {}
        for key in ("limit", "offset"):
            if key in query:
                value = query.pop(key)
                step.require(value.isdigit(), f"{label}: next_page {key}={value!r} is not an integer")
                kwargs[key] = int(value)
        if query:
            kwargs["extra_query"] = query
        step.require("offset" in kwargs, f"{label}: next_page {next_page!r} has no offset")
    raise StepFailed(f"{label}: still paging after {MAX_PAGES} pages")


def _data(raw: Any, label: str) -> Any:
    if not isinstance(raw, dict) or "data" not in raw:
        raise StepFailed(f"{label}: response has no `data`")
    return raw["data"]


# --------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------


class Context:
    def __init__(self, client: OnlyFansAPI, url: str) -> None:
        self.client = client
        self.url = url
        self.account: str | None = None
        self.fan_ids: List[int] = []
        self.run_id = uuid.uuid4().hex[:10]

    def need_account(self) -> str:
        if not self.account:
            raise StepFailed("skipped: no account id (step 1 failed)")
        return self.account

    def need_fan(self) -> int:
        if not self.fan_ids:
            raise StepFailed("skipped: no fan id (step 2 failed)")
        return self.fan_ids[0]


def step_accounts(ctx: Context, step: Step) -> str:
    accounts = step.call("accounts.list", ctx.client.accounts, "list")
    step.require(isinstance(accounts, list), "accounts.list: expected a JSON array")
    step.require(len(accounts) >= 1, "accounts.list: no accounts")
    account_id = accounts[0].get("id") if isinstance(accounts[0], dict) else None
    step.require(isinstance(account_id, str) and account_id != "", "accounts.list: [0].id is not a string")
    step.check(account_id.startswith("acct_"), f"accounts.list: [0].id {account_id!r} does not start with acct_")
    ctx.account = account_id
    step.call("whoami.retrieve", ctx.client.whoami, "retrieve")
    return f"{len(accounts)} account(s), using {account_id}"


def step_fans(ctx: Context, step: Step) -> str:
    account = ctx.need_account()
    path = f"/api/{account}/fans/all"

    def walk(limit: int) -> typing.Tuple[List[Any], int]:
        return paginate(
            step, f"fans.list_all(limit={limit})", ctx.client.fans, "list_all", path,
            lambda raw: (_data(raw, "fans.list_all") or {}).get("list"),
            account, limit=limit, offset=0,
        )

    fans, pages = walk(FAN_PAGE_SIZE)
    ids = [fan.get("id") if isinstance(fan, dict) else None for fan in fans]
    step.require(len(ids) > 0, "fans.list_all: no fans at all")
    step.check(all(isinstance(i, int) and not isinstance(i, bool) for i in ids), "fans.list_all: some fan ids are not integers")
    duplicates = sorted({i for i in ids if ids.count(i) > 1}, key=repr)
    step.check(not duplicates, f"fans.list_all: duplicate fan ids across pages: {duplicates[:10]}")
    again = [fan.get("id") if isinstance(fan, dict) else None for fan in walk(20)[0]]
    step.check(
        sorted(again, key=repr) == sorted(ids, key=repr),
        f"fans.list_all: limit=20 walk gave {len(again)} fans, limit={FAN_PAGE_SIZE} walk gave {len(ids)} (or other ids)",
    )
    ctx.fan_ids = [i for i in ids if isinstance(i, int)]
    return f"{len(ids)} fans in {pages} page(s) of limit={FAN_PAGE_SIZE}, same ids with limit=20"


def step_earnings(ctx: Context, step: Step) -> str:
    account = ctx.need_account()
    end = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start = end - datetime.timedelta(days=30)
    fmt = "%Y-%m-%d %H:%M:%S"
    raw = step.call(
        "statistics.statements.get_earnings", ctx.client.statistics.statements, "get_earnings",
        account, start_date=start.strftime(fmt), end_date=end.strftime(fmt),
    )
    total = (_data(raw, "get_earnings") or {}).get("total")
    step.require(isinstance(total, dict), "get_earnings: data.total is not an object")
    amount = total.get("total")
    step.check(
        isinstance(amount, (int, float)) and not isinstance(amount, bool),
        f"get_earnings: data.total.total is {amount!r}, expected a number",
    )
    step.check(isinstance(total.get("chartAmount"), list), "get_earnings: data.total.chartAmount is not an array")
    return f"net total {amount} for {start:%Y-%m-%d}..{end:%Y-%m-%d}"


def step_chat(ctx: Context, step: Step) -> str:
    account = ctx.need_account()
    chats = step.call("chats.list", ctx.client.chats, "list", account, limit="10")
    step.check(isinstance(_data(chats, "chats.list"), list), "chats.list: data is not an array")
    chat_id = str(ctx.need_fan())
    text = f"sdk-conformance chat {ctx.run_id}"
    sent = step.call("chats.messages.send", ctx.client.chats.messages, "send", chat_id, account=account, text=text)
    message = _data(sent, "chats.messages.send") or {}
    message_id = message.get("id")
    step.check(isinstance(message_id, int), f"chats.messages.send: data.id is {message_id!r}, expected an int")
    step.check(text in str(message.get("text")), f"chats.messages.send: data.text {message.get('text')!r} lacks the sent text")
    listed = step.call("chats.messages.list", ctx.client.chats.messages, "list", chat_id, account=account, limit="20")
    messages = _data(listed, "chats.messages.list")
    step.require(isinstance(messages, list), "chats.messages.list: data is not an array")
    hits = [m for m in messages if isinstance(m, dict) and text in str(m.get("text"))]
    step.require(hits, f"chats.messages.list: sent text not among the newest {len(messages)} messages of chat {chat_id}")
    step.check(
        message_id is None or any(m.get("id") == message_id for m in hits),
        f"chats.messages.list: text found but not with the sent id {message_id}",
    )
    return f"message {message_id} sent to chat {chat_id} and read back"


def step_tracking_link(ctx: Context, step: Step) -> str:
    account = ctx.need_account()
    links = ctx.client.tracking_links
    path = f"/api/{account}/tracking-links"
    name = f"sdk-conformance {ctx.run_id}"

    def listed_ids(label: str) -> List[Any]:
        items, _ = paginate(
            step, label, links, "list", path,
            lambda raw: (_data(raw, label) or {}).get("list"),
            account, limit=50, offset=0, with_deleted=0,
        )
        return [item.get("id") for item in items if isinstance(item, dict)]

    created = step.call("tracking_links.create", links, "create", account, name=name)
    data = _data(created, "tracking_links.create")
    step.require(isinstance(data, list) and data and isinstance(data[0], dict),
                 "tracking_links.create: data is not a non-empty array of links")
    link_id = data[0].get("id")
    step.require(isinstance(link_id, int), f"tracking_links.create: data[0].id is {link_id!r}, expected an int")
    step.check(data[0].get("campaignName") == name, f"tracking_links.create: data[0].campaignName is {data[0].get('campaignName')!r}")
    step.check(link_id in listed_ids("tracking_links.list"), f"tracking_links.list: new link {link_id} not listed")
    got = _data(step.call("tracking_links.retrieve", links, "retrieve", str(link_id), account=account), "tracking_links.retrieve") or {}
    step.check(got.get("id") == link_id, f"tracking_links.retrieve: data.id is {got.get('id')!r}, expected {link_id}")
    step.check(got.get("campaignName") == name, f"tracking_links.retrieve: data.campaignName is {got.get('campaignName')!r}")
    deleted = _data(step.call("tracking_links.delete", links, "delete", str(link_id), account=account), "tracking_links.delete") or {}
    step.check(deleted.get("success") is True, f"tracking_links.delete: data.success is {deleted.get('success')!r}")
    step.check(
        link_id not in listed_ids("tracking_links.list after delete"),
        f"tracking_links.list(with_deleted=0): deleted link {link_id} still listed",
    )
    return f"link {link_id} created, listed, retrieved, deleted, gone"


def step_mass_message(ctx: Context, step: Step) -> str:
    account = ctx.need_account()
    fan_id = ctx.need_fan()
    mass = ctx.client.mass_messaging
    text = f"sdk-conformance mass {ctx.run_id}"
    sent = _data(step.call("mass_messaging.send", mass, "send", account, text=text, user_ids=[str(fan_id)]), "mass_messaging.send") or {}
    mm_id = sent.get("id")
    step.require(isinstance(mm_id, int), f"mass_messaging.send: data.id is {mm_id!r}, expected an int")

    def queue_item() -> Any:
        items = _data(step.call("mass_messaging.list", mass, "list", account), "mass_messaging.list")
        step.require(isinstance(items, list), "mass_messaging.list: data is not an array")
        return next((i for i in items if isinstance(i, dict) and i.get("id") == mm_id), None)

    step.check(queue_item() is not None, f"mass_messaging.list: sent message {mm_id} not listed")
    got = _data(step.call("mass_messaging.retrieve", mass, "retrieve", str(mm_id), account=account), "mass_messaging.retrieve") or {}
    queue = got.get("queue") or {}
    step.check(queue.get("id") == mm_id, f"mass_messaging.retrieve: data.queue.id is {queue.get('id')!r}, expected {mm_id}")
    step.check(text in str(queue.get("text")), f"mass_messaging.retrieve: data.queue.text {queue.get('text')!r} lacks the sent text")
    deleted = _data(step.call("mass_messaging.delete", mass, "delete", str(mm_id), account=account), "mass_messaging.delete") or {}
    step.check(deleted.get("success") is True, f"mass_messaging.delete: data.success is {deleted.get('success')!r}")
    after = queue_item()
    step.check(
        after is None or after.get("isCanceled") is True,
        f"mass_messaging.list after unsend: {mm_id} still listed and not isCanceled",
    )
    try:
        again = _data(step.call("mass_messaging.retrieve after unsend", mass, "retrieve", str(mm_id), account=account), "retrieve") or {}
        step.check(
            (again.get("queue") or {}).get("isCanceled") is True,
            "mass_messaging.retrieve after unsend: neither 404 nor data.queue.isCanceled=true",
        )
        state = "marked isCanceled"
    except NotFoundError:
        state = "now 404"
    return f"mass message {mm_id} sent, listed, retrieved, unsent ({state})"


def step_webhooks(ctx: Context, step: Step) -> str:
    account = ctx.need_account()
    hooks = ctx.client.webhooks
    url = f"https://bot.example/hooks/ofapi/{ctx.run_id}"
    events = ["tips.received", "subscriptions.new"]
    created = _data(step.call(
        "webhooks.create", hooks, "create",
        account_scope="inclusive", endpoint_url=url, events=events,
        account_ids=[account], signing_secret=f"whsec-{ctx.run_id}",
    ), "webhooks.create") or {}
    hook_id = created.get("id")
    step.require(isinstance(hook_id, str) and hook_id.startswith("wh_"), f"webhooks.create: data.id is {hook_id!r}, expected wh_...")
    step.check(created.get("url") == url, f"webhooks.create: data.url is {created.get('url')!r}")
    step.check(created.get("events") == events, f"webhooks.create: data.events is {created.get('events')!r}")
    step.check(created.get("has_signing_secret") is True, "webhooks.create: has_signing_secret is not true")
    step.check(created.get("enabled") is True, "webhooks.create: enabled is not true")
    listed = _data(step.call("webhooks.list", hooks, "list"), "webhooks.list")
    step.require(isinstance(listed, list), "webhooks.list: data is not an array")
    step.check(any(isinstance(h, dict) and h.get("id") == hook_id for h in listed), f"webhooks.list: {hook_id} not listed")
    got = _data(step.call("webhooks.retrieve", hooks, "retrieve", hook_id), "webhooks.retrieve") or {}
    step.check(got == created, f"webhooks.retrieve: {got!r} differs from what create answered")
    updated = _data(step.call(
        "webhooks.update", hooks, "update", hook_id,
        account_scope="global", endpoint_url=url + "/v2", events=["tips.received"], enabled=False,
    ), "webhooks.update") or {}
    step.check(updated.get("enabled") is False, f"webhooks.update: enabled is {updated.get('enabled')!r}, expected false")
    step.check(updated.get("url") == url + "/v2", f"webhooks.update: url is {updated.get('url')!r}")
    step.check(updated.get("has_signing_secret") is True, "webhooks.update: the signing secret was lost")
    available = _data(step.call("webhooks.list_events", hooks, "list_events"), "webhooks.list_events")
    step.require(isinstance(available, list), "webhooks.list_events: data is not an array")
    values = [e.get("value") for e in available if isinstance(e, dict)]
    step.check(all(e in values for e in events), f"webhooks.list_events: {events} not all among {values}")
    step.check(
        all(isinstance(e.get("description"), str) and e["description"] for e in available if isinstance(e, dict)),
        "webhooks.list_events: an event has no description",
    )
    step.call("webhooks.delete", hooks, "delete", hook_id)
    try:
        step.call("webhooks.retrieve after delete", hooks, "retrieve", hook_id)
        step.problems.append(f"webhooks.retrieve after delete: {hook_id} still found")
    except NotFoundError:
        pass
    return f"webhook {hook_id} created, listed, retrieved, updated, deleted; {len(values)} events listed"


def step_bad_key(ctx: Context, step: Step) -> str:
    bad = OnlyFansAPI(api_key=f"invalid-{ctx.run_id}", base_url=ctx.url, max_retries=0, timeout=30)
    calls = [("accounts.list", lambda: bad.accounts.list())]
    if ctx.account:
        account = ctx.account
        calls.append(("me.retrieve", lambda: bad.me.retrieve(account)))
    for label, call in calls:
        try:
            call()
        except AuthenticationError as err:
            step.check(err.status_code == 401, f"{label}: status {err.status_code}")
            step.check(isinstance(err.body, dict), f"{label}: 401 body is not a JSON object: {_short(err.body)}")
        except APIStatusError as err:
            step.problems.append(f"{label} with a wrong key: {type(err).__name__} (HTTP {err.status_code}), expected AuthenticationError (401)")
        else:
            step.problems.append(f"{label} with a wrong key: succeeded, expected AuthenticationError")
    return f"{len(calls)} call(s) with a wrong key raised AuthenticationError"


STEPS = [
    ("accounts", step_accounts),
    ("fans pagination", step_fans),
    ("earnings", step_earnings),
    ("chat message", step_chat),
    ("tracking link", step_tracking_link),
    ("mass message", step_mass_message),
    ("webhooks", step_webhooks),
    ("wrong API key", step_bad_key),
]


def main() -> int:
    url = os.environ.get("OFAPI_SANDBOX_URL")
    key = os.environ.get("OFAPI_SANDBOX_KEY")
    if not url or not key:
        print("OFAPI_SANDBOX_URL and OFAPI_SANDBOX_KEY must be set", file=sys.stderr)
        return 2
    version = getattr(onlyfansapi, "__version__", "?")
    if version != SDK_VERSION:
        print(f"note: onlyfansapi {version} installed, script written for {SDK_VERSION}")
    client = OnlyFansAPI(
        api_key=key,
        base_url=url.rstrip("/"),
        max_retries=0,
        timeout=30,
        _strict_response_validation=True,  # let the SDK pydantic-validate every response
    )
    ctx = Context(client, url.rstrip("/"))
    passed = failed = 0
    for number, (title, run) in enumerate(STEPS, start=1):
        step = Step()
        summary = ""
        try:
            summary = run(ctx, step)
        except StepFailed as err:
            step.problems.append(str(err))
        except APIStatusError as err:
            step.problems.append(
                f"unexpected {type(err).__name__}: HTTP {err.status_code} "
                f"{err.response.request.method} {err.response.request.url}: {_short(err.body, 300)}"
            )
        except APIError as err:  # connection errors, timeouts
            step.problems.append(f"{type(err).__name__}: {err.message} ({err.request.method} {err.request.url})")
        except Exception as err:  # noqa: BLE001 - report anything, keep going
            where = traceback.extract_tb(err.__traceback__)[-1]
            step.problems.append(f"{type(err).__name__}: {err} (at {where.name}:{where.lineno})")
        note = f" [waited out {step.waits_429} HTTP 429]" if step.waits_429 else ""
        if step.problems:
            failed += 1
            problems = fold(step.problems)
            print(f"FAIL {number}/{len(STEPS)} {title}: {len(problems)} problem(s){note}")
            for problem in problems:
                print(f"    - {problem}")
        else:
            passed += 1
            print(f"PASS {number}/{len(STEPS)} {title}: {summary}{note}")
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
