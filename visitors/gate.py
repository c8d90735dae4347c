"""The rate limits' gate: an address already out of calls for an endpoint is refused before Gradio
routes the request, and the refusal is held until its next call would be taken, so a flooder
neither costs the server Gradio's per-request work nor fires again at once. Torch-free.

Installed by app.py's launch settings (`app_kwargs={"middleware": [...]}`), a pure ASGI middleware.
It only looks at a POST to one of Gradio's routes for a rate-limited endpoint (ENDPOINTS):
/gradio_api/run/<name> and /gradio_api/api/<name>, or any name with the event's fn_index in the
body, as the page sends its unqueued events to /run/predict (one POST: answered as Gradio answers a
gr.Error there, HTTP 500 with its JSON), /gradio_api/call/<name>, /gradio_api/call/v2/<name> and
/gradio_api/queue/join (gradio_client and the page: the event is answered through Gradio's queue,
an event id and then the refusal as the event's completion on the session's stream). Everything
else passes through after a path check; a call it recognises passes through after a peek at the
address's bucket (visitors/limits.py `RateLimit.peek`, taking nothing: the handler's own guard takes the
token). Only an address already refused is answered here, in the handler's own words.

A call let through on an address's last call counts as taken until its handler has counted it (or
PASS_S has gone by), so held connections released together, as a flooder's are each time a call
falls due, send one call to the handler and are refused here, not all by the handler.
"""
import asyncio
import json
import time
import uuid

from gradio.server_messages import ProcessCompletedMessage
from gradio.utils import error_payload
from starlette.requests import Request

import locales
from visitors import limits

# api_name -> the RATES bucket its handler's limits.guard takes from
ENDPOINTS = {"backprop_step": "backprop", "train": "train",
             "classify": "upload", "classify_upload": "upload", "my_digits_upload": "upload"}
# Whose handler counts a call only when it carries a picture (tabs/draw/tab.py `_uploaded`)
ONLY_WITH_VALUE = {"classify", "classify_upload"}
HOLD_MAX_S = 2.0  # the longest a refusal is held: a backprop token is due within 1 s at the default rate
MAX_HELD = 32  # refusals held at once for one address; past it they are answered at once
PASS_S = 1.0  # the longest a call let through on an address's last call counts as taken
PREFIX = "/gradio_api/"
MAX_BODY = 1 << 20  # a join's body read past this is left to Gradio


def route(method: str, path: str) -> tuple[str, str | None] | None:
    """("run" | "queue", api_name or None for a join) for a call the gate looks at, else None."""
    if method != "POST" or not path.startswith(PREFIX):
        return None
    parts = path[len(PREFIX):].strip("/").split("/")
    if parts == ["queue", "join"]:
        return "queue", None
    if len(parts) == 2 and parts[0] in ("run", "api"):  # a fn_index in the body overrides the name
        return "run", parts[1]
    if parts[0] == "call" and len(parts) in (2, 3) and parts[-1] in ENDPOINTS and (len(parts) == 2 or parts[1] == "v2"):
        return "queue", parts[-1]
    return None


def _empty(data) -> bool:
    """No picture in a call's data: its handler counts nothing (ONLY_WITH_VALUE)."""
    if isinstance(data, dict):
        return all(value is None for value in data.values())
    return not isinstance(data, list) or not data or data[0] is None


class Gate:
    def __init__(self, app):
        self.app = app
        self.held: dict[str, int] = {}  # address -> refusals held now (one event loop: no lock)
        # (rate, address) -> (when a call was let through on the last call, the bucket's taken_at then)
        self.passing: dict[tuple[str, str], tuple[float, float | None]] = {}

    def wait(self, rate: str, where: str) -> float:
        """Seconds until `rate` takes a call from `where`, counting a call let through but not yet
        counted by its handler."""
        bucket = limits.RATES[rate]
        passing = self.passing.get((rate, where))
        if passing and (time.monotonic() - passing[0] > PASS_S or bucket.taken_at(where) != passing[1]):
            del self.passing[(rate, where)]
            passing = None
        return bucket.peek(where, 2 if passing else 1)

    def let_through(self, rate: str, where: str) -> None:
        """Remember a call let through on `where`'s last call, until its handler counts it."""
        bucket = limits.RATES[rate]
        if bucket.peek(where, 2) > 0:
            if len(self.passing) >= limits.MAX_ADDRESSES:
                self.passing.clear()  # forgetting only lets a few more calls reach their handlers
            self.passing[(rate, where)] = (time.monotonic(), bucket.taken_at(where))

    async def __call__(self, scope, receive, send):
        found = route(scope.get("method", ""), scope.get("path", "")) if scope["type"] == "http" else None
        if found is None:
            return await self.app(scope, receive, send)
        request = Request(scope)
        where = limits.address(request)
        kind, name = found
        names = {ENDPOINTS[name]} if kind == "queue" and name else set(ENDPOINTS.values())
        if not any(limits.RATES[n].taken_at(where) is not None and limits.RATES[n].peek(where, 2) > 0 for n in names):
            return await self.app(scope, receive, send)  # the common case: calls to spare, untouched
        body, receive = await _body(receive)
        try:
            sent = json.loads(body) if body else {}
        except ValueError:
            sent = None
        blocks = getattr(scope.get("app"), "get_blocks", lambda: None)()
        if not isinstance(sent, dict):
            return await self.app(scope, receive, send)
        if name is None or (kind == "run" and sent.get("fn_index") is not None):  # the event named by number
            fn = getattr(blocks, "fns", {}).get(sent.get("fn_index")) if blocks is not None else None
            name = getattr(fn, "api_name", None)
        if name not in ENDPOINTS or (name in ONLY_WITH_VALUE and _empty(sent.get("data"))):
            return await self.app(scope, receive, send)
        rate = ENDPOINTS[name]
        bucket = limits.RATES[rate]
        wait = self.wait(rate, where)
        if wait <= 0:
            self.let_through(rate, where)
            return await self.app(scope, receive, send)
        if kind == "queue" and not _queue_open(blocks):
            return await self.app(scope, receive, send)  # not Gradio's queue as we know it: the handler refuses
        if self.held.get(where, 0) < MAX_HELD:
            self.held[where] = self.held.get(where, 0) + 1
            try:
                await asyncio.sleep(min(wait, HOLD_MAX_S))
            finally:
                self.held[where] -= 1
                if not self.held[where]:
                    del self.held[where]
        lang = locales.language(request)
        error = limits._error(bucket.refusal(bucket.peek(where)), lang)
        content = error_payload(error, True)
        if kind == "run":
            return await _json(send, 500, content)
        session = sent.get("session_hash")
        event_id = uuid.uuid4().hex
        await _complete(blocks._queue, session or event_id, event_id, content)
        return await _json(send, 200, {"event_id": event_id})


async def _body(receive):
    """The request's body, and a receive that gives it again to whoever reads next."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
        if sum(map(len, chunks)) > MAX_BODY:
            break
    body, replayed = b"".join(chunks), False

    async def again():
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return (b"" if more else body), again


def _queue_open(blocks) -> bool:
    queue = getattr(blocks, "_queue", None)
    return all(hasattr(queue, a) for a in ("pending_message_lock", "pending_messages_per_session", "pending_event_ids_session"))


async def _complete(queue, session: str, event_id: str, content: dict) -> None:
    """The refusal as a completed event on the session's stream, as Gradio's queue sends an error."""
    async with queue.pending_message_lock:
        if session not in queue.pending_messages_per_session:
            queue.pending_messages_per_session[session] = asyncio.Queue()
        queue.pending_event_ids_session.setdefault(session, set()).add(event_id)
    queue.pending_messages_per_session[session].put_nowait(
        ProcessCompletedMessage(event_id=event_id, output=content, title=content.get("title", "Error"), success=False))


async def _json(send, status: int, content: dict) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
