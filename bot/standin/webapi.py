"""A small Slack Web API served over loopback HTTP that records every call.

Implements what relbot uses: ``auth.test``, ``chat.postMessage``, ``chat.update``,
``chat.postEphemeral``, ``chat.getPermalink``, ``users.info``, ``usergroups.list``,
``usergroups.users.list``, ``views.publish``, ``views.open``, ``views.update``,
``conversations.info`` and the files v2 upload flow, plus ``POST /response/<id>`` standing
in for slash-command ``response_url``s.
Any Web API method can be made to fail, slow down or hang (``state.faults``,
:mod:`bot.standin.faults`).

Reactions that tests and the console make are kept on their message (``SlackState.react``)
and served by ``reactions.get`` in Slack's shape; ``reactions.add``/``remove`` act as the bot.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from bot.http import stop_server
from bot.standin.faults import Faults
from bot.standin.modals import Modal

BOT_USER = "U0RELBOT"
TEAM = "T0RELBOT"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)   # when it arrived (monotonic)
    dropped: bool = False     # hung until its client gave up: never processed


@dataclass
class Message:
    """A message as Slack would hold it; ``number`` is its 1-based position (console)."""

    number: int
    channel: str
    ts: str
    text: str
    blocks: list[dict] | None
    thread_ts: str | None = None
    user: str = BOT_USER
    edits: int = 0
    kind: str = "message"  # message | ephemeral | response | file
    to_user: str | None = None
    attachments: list[dict] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    """Reaction name -> users who have it on this message, in the order they reacted."""

    @property
    def rendered(self) -> str:
        from bot.render.common import blocks_to_text

        return blocks_to_text(self.blocks, self.text)


@dataclass
class Transcript:
    """Everything visible that happened, in order (posts, updates, ephemerals, views)."""

    events: list[tuple[str, Any]] = field(default_factory=list)


class SlackState:
    """The stand-in's data: users, groups, channels' messages, views, and the call log."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.messages: list[Message] = []      # channel messages incl. thread replies
        self.private: list[Message] = []       # ephemerals and response_url answers
        self.views: dict[str, dict] = {}
        self.modals: list[Modal] = []
        self.triggers: dict[str, str] = {}     # trigger_id -> user it was issued to
        self.files: list[dict] = []
        self.transcript: list[tuple[str, Message | dict]] = []
        self.users: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}      # id -> {id, handle, name, users: [...]}
        self.faults = Faults()                 # injected failures, delays, hangs
        self.stopping = threading.Event()      # set when the server stops: hung calls end
        self._ts = time.time_ns() // 1000  # microseconds: sessions on one db never reuse a ts
        self.changed = threading.Condition(self.lock)

    # --- setup helpers -------------------------------------------------------------
    def add_user(self, user_id: str, name: str | None = None, tz: str = "Europe/Berlin") -> None:
        self.users[user_id] = {"id": user_id, "name": name or user_id.lower(),
                               "real_name": name or user_id, "tz": tz}

    def add_group(self, handle: str, members: list[str], group_id: str | None = None) -> str:
        gid = group_id or f"S{len(self.groups) + 1:04d}{handle.upper()[:6]}".replace("-", "")
        self.groups[gid] = {"id": gid, "handle": handle.lstrip("@"), "name": handle,
                            "users": list(members)}
        return gid

    def fail_next(self, method: str, status: int = 429, body: dict | None = None,
                  headers: dict | None = None) -> None:
        """Make the next call of ``method`` answer ``status`` (e.g. 429 + Retry-After).

        Kept for older tests; :attr:`faults` (:class:`bot.standin.faults.Faults`) does more.
        """
        retry = (headers or {}).get("Retry-After")
        self.faults.fail(method, status, error=(body or {}).get("error", "ratelimited"),
                         retry_after=float(retry) if retry is not None else None)

    def react(self, channel: str, ts: str, user: str, name: str, *,
              removed: bool = False) -> bool:
        """Put (or take off) ``user``'s ``name`` reaction on a message, as Slack records it
        before it sends the event; False when nothing changed or there is no such message."""
        with self.lock:
            msg = self.by_ts(channel, ts)
            if msg is None:
                return False
            users = msg.reactions.setdefault(name, [])
            if removed == (user not in users):
                return False
            if removed:
                users.remove(user)
            else:
                users.append(user)
            if not users:
                del msg.reactions[name]
            return True

    # --- queries -------------------------------------------------------------------
    def calls_of(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        """Block until ``predicate()`` holds (re-checked after every call and change)."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def message(self, number: int) -> Message:
        with self.lock:
            if not 1 <= number <= len(self.messages):
                raise LookupError(f"no message {number} (messages are 1..{len(self.messages)}"
                                  "; a console started with --db keeps the database, not the"
                                  " messages of earlier sessions)")
            return self.messages[number - 1]

    def by_ts(self, channel: str, ts: str) -> Message | None:
        with self.lock:
            return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def next_ts(self) -> str:
        with self.lock:
            self._ts += 1
            return f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"


def _coerce(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for key in ("blocks", "attachments", "view", "files", "metadata"):
        if isinstance(out.get(key), str):
            try:
                out[key] = json.loads(out[key])
            except json.JSONDecodeError:
                pass
    return out


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: dict | str, headers: dict | None = None) -> None:
        raw = body if isinstance(body, str) else json.dumps(body)
        data = raw.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _params(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        params: dict[str, Any] = {}
        query = urlparse(self.path).query
        for k, v in parse_qs(query).items():
            params[k] = v[-1]
        if not raw:
            return params
        if "json" in ctype:
            params.update(json.loads(raw.decode()))
        elif "form" in ctype:
            for k, v in parse_qs(raw.decode(), keep_blank_values=True).items():
                params[k] = v[-1]
        else:
            params["_raw"] = raw
        return params

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def do_GET(self) -> None:  # noqa: N802
        self.do_POST()

    def do_POST(self) -> None:  # noqa: N802
        path = urlparse(self.path).path
        st = self.server.state
        if path.startswith("/upload/"):  # the file's bytes, whatever the Content-Type says
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with st.lock:
                for f in st.files:
                    if f["id"] == path.rsplit("/", 1)[-1]:
                        f["content"] = raw.decode(errors="replace")
            self._send(200, "OK")
            return
        params = self._params()
        if path.startswith("/response/"):
            self._send(200, "ok" if self.server.api.on_response(path, params) else "no_text")
            return
        method = path.removeprefix("/api/")
        params = _coerce(params)
        call = Call(method, params)
        with st.lock:
            st.calls.append(call)
            st.changed.notify_all()
        failure = st.faults.before(method, st.stopping)  # may sleep or hang: outside the lock
        if self._client_gone():   # it timed out while we hung: like a proxy that never
            call.dropped = True   # forwarded the request, Slack does not process it
            return
        if failure:
            status, body, headers = failure
            self._send(status, body, headers)
            return
        self._send(200, self.server.api.handle(method, params))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: SlackState
    api: FakeSlackAPI


class FakeSlackAPI:
    """Runs the stand-in on ``127.0.0.1:<port>``; ``url`` is the Web API base URL."""

    def __init__(self, port: int = 0, state: SlackState | None = None) -> None:
        self.state = state or SlackState()
        self.state.add_user(BOT_USER, "relbot")
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.state = self.state
        self._server.api = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True, name="slack-standin")
        self._responses: dict[str, dict] = {}

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def start(self) -> FakeSlackAPI:
        self._thread.start()
        return self

    @property
    def faults(self) -> Faults:
        """Fault injection for this stand-in (see :mod:`bot.standin.faults`)."""
        return self.state.faults

    def stop(self) -> None:
        self.state.stopping.set()
        stop_server(self._server)

    def response_url(self, user: str, channel: str) -> str:
        """A fresh ``response_url`` that records answers as ephemerals to ``user``."""
        rid = f"R{len(self._responses) + 1:05d}"
        self._responses[rid] = {"user": user, "channel": channel}
        return f"http://127.0.0.1:{self.port}/response/{rid}"

    def calls(self, method: str) -> list[Call]:
        return self.state.calls_of(method)

    # --- response_url -------------------------------------------------------------
    def on_response(self, path: str, params: dict[str, Any]) -> bool:
        rid = path.rsplit("/", 1)[-1]
        target = self._responses.get(rid, {"user": "?", "channel": "?"})
        params = _coerce(params)
        if not params.get("text") and not params.get("blocks"):
            return False
        st = self.state
        with st.lock:
            public = params.get("response_type") == "in_channel"
            msg = Message(0, target["channel"], st.next_ts(), params.get("text", ""),
                          params.get("blocks"), kind="message" if public else "response",
                          to_user=None if public else target["user"])
            if public:
                msg.number = len(st.messages) + 1
                st.messages.append(msg)
            else:
                st.private.append(msg)
            st.transcript.append(("post", msg))
            st.changed.notify_all()
        return True

    # --- Web API methods -------------------------------------------------------------
    def handle(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        st = self.state
        fn = getattr(self, "_m_" + method.replace(".", "_"), None)
        if fn is None:
            return {"ok": False, "error": "unknown_method"}
        with st.lock:
            result = fn(p)
            st.changed.notify_all()
            return result

    def _m_apps_connections_open(self, p: dict) -> dict:
        hub = getattr(self, "socket_mode", None)  # bot.standin.socketmode.SocketModeHub
        if hub is None:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": hub.new_url()}

    def _m_auth_test(self, p: dict) -> dict:
        return {"ok": True, "url": "https://relbot-standin.slack.invalid/", "team": "relbot",
                "user": "relbot", "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0RELBOT"}

    def _m_chat_postMessage(self, p: dict) -> dict:  # noqa: N802
        st = self.state
        channel = p.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
            return {"ok": False, "error": "no_text"}
        msg = Message(len(st.messages) + 1, channel, st.next_ts(), p.get("text", ""),
                      p.get("blocks"), p.get("thread_ts"), attachments=p.get("attachments"))
        st.messages.append(msg)
        st.transcript.append(("post", msg))
        return {"ok": True, "channel": channel, "ts": msg.ts,
                "message": {"text": msg.text, "ts": msg.ts, "user": BOT_USER,
                            "blocks": msg.blocks or []}}

    def _m_chat_update(self, p: dict) -> dict:
        msg = self.state.by_ts(p.get("channel", ""), p.get("ts", ""))
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        msg.text = p.get("text", msg.text)
        if "blocks" in p:
            msg.blocks = p.get("blocks")
        msg.edits += 1
        self.state.transcript.append(("update", msg))
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "text": msg.text}

    def _m_chat_postEphemeral(self, p: dict) -> dict:  # noqa: N802
        st = self.state
        msg = Message(0, p.get("channel", ""), st.next_ts(), p.get("text", ""), p.get("blocks"),
                      p.get("thread_ts"), kind="ephemeral", to_user=p.get("user"))
        st.private.append(msg)
        st.transcript.append(("post", msg))
        return {"ok": True, "message_ts": msg.ts}

    def _m_chat_getPermalink(self, p: dict) -> dict:  # noqa: N802
        ts = str(p.get("message_ts", "")).replace(".", "")
        return {"ok": True, "channel": p.get("channel"),
                "permalink": f"https://relbot-standin.slack.invalid/archives/{p.get('channel')}/p{ts}"}

    def _m_users_info(self, p: dict) -> dict:
        user = self.state.users.get(p.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _m_conversations_info(self, p: dict) -> dict:
        return {"ok": True, "channel": {"id": p.get("channel"), "name": "releases",
                                        "is_member": True}}

    def _m_usergroups_list(self, p: dict) -> dict:
        groups = [{k: v for k, v in g.items() if k != "users"} for g in self.state.groups.values()]
        return {"ok": True, "usergroups": groups}

    def _m_usergroups_users_list(self, p: dict) -> dict:
        group = self.state.groups.get(p.get("usergroup", ""))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(group["users"])}

    def _m_views_open(self, p: dict) -> dict:
        user = self.state.triggers.pop(str(p.get("trigger_id", "")), None)
        if user is None:  # unknown, or already used: Slack's answer
            return {"ok": False, "error": "invalid_trigger_id"}
        n = len(self.state.modals) + 1
        modal = Modal(n, f"V0MODAL{n:04d}", user, p.get("view") or {})
        self.state.modals.append(modal)
        self.state.transcript.append(("modal", modal))
        return {"ok": True, "view": modal.payload_view()}

    def _m_views_update(self, p: dict) -> dict:
        modal = next((m for m in self.state.modals if m.id == p.get("view_id")), None)
        if modal is None or not modal.open:
            return {"ok": False, "error": "not_found"}
        if p.get("hash") and p["hash"] != modal.hash:
            return {"ok": False, "error": "hash_conflict"}
        modal.view, modal.hash = p.get("view") or {}, f"h{int(modal.hash[1:]) + 1}"
        self.state.transcript.append(("modal-update", modal))
        return {"ok": True, "view": modal.payload_view()}

    def _m_views_publish(self, p: dict) -> dict:
        view = p.get("view") or {}
        self.state.views[p.get("user_id", "")] = view
        self.state.transcript.append(("view", {"user": p.get("user_id"), "view": view}))
        return {"ok": True, "view": {"id": "V0HOME", **view}}

    def _m_files_getUploadURLExternal(self, p: dict) -> dict:  # noqa: N802
        fid = f"F{len(self.state.files) + 1:05d}"
        self.state.files.append({"id": fid, "filename": p.get("filename"), "content": ""})
        return {"ok": True, "upload_url": f"http://127.0.0.1:{self.port}/upload/{fid}",
                "file_id": fid}

    def _m_files_completeUploadExternal(self, p: dict) -> dict:  # noqa: N802
        st = self.state
        files = p.get("files") or []
        done = []
        for f in files:
            rec = next((x for x in st.files if x["id"] == f.get("id")), None)
            if rec is None:
                return {"ok": False, "error": "file_not_found"}
            rec.update(title=f.get("title"), channel=p.get("channel_id"),
                       thread_ts=p.get("thread_ts"))
            msg = Message(len(st.messages) + 1, p.get("channel_id", ""), st.next_ts(),
                          p.get("initial_comment") or f"file {rec['filename']}", None,
                          p.get("thread_ts"), kind="file")
            msg.attachments = [{"file": rec["filename"], "content": rec["content"]}]
            st.messages.append(msg)
            st.transcript.append(("post", msg))
            done.append({"id": rec["id"], "title": f.get("title")})
        return {"ok": True, "files": done}

    # --- reactions -------------------------------------------------------------------
    def _m_reactions_get(self, p: dict) -> dict:
        msg = self.state.by_ts(p.get("channel", ""), p.get("timestamp", ""))
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        body: dict[str, Any] = {"type": "message", "text": msg.text, "ts": msg.ts,
                                "user": msg.user}
        if msg.reactions:  # Slack leaves the key out when there are none
            body["reactions"] = [{"name": n, "users": list(u), "count": len(u)}
                                 for n, u in msg.reactions.items()]
        return {"ok": True, "type": "message", "channel": msg.channel, "message": body}

    def _m_reactions_add(self, p: dict) -> dict:
        if not self.state.react(p.get("channel", ""), p.get("timestamp", ""), BOT_USER,
                                str(p.get("name", ""))):
            return {"ok": False, "error": "already_reacted"}
        return {"ok": True}

    def _m_reactions_remove(self, p: dict) -> dict:
        if not self.state.react(p.get("channel", ""), p.get("timestamp", ""), BOT_USER,
                                str(p.get("name", "")), removed=True):
            return {"ok": False, "error": "no_reaction"}
        return {"ok": True}
