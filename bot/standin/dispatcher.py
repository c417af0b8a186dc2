"""Send what Slack would send: signed slash commands, Events API envelopes, block actions."""

from __future__ import annotations

import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.standin.modals import Modal
from bot.standin.webapi import TEAM, FakeSlackAPI, Message

APP_ID = "A0RELBOT"


@dataclass(frozen=True)
class HTTPResult:
    status: int
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip().startswith("{") else None

    @property
    def text(self) -> str:
        """The ack's visible text (ephemeral answer to a slash command), or the raw body."""
        data = self.json
        return str(data.get("text", "")) if isinstance(data, dict) else self.body


class SlackSender:
    """Signs and POSTs requests to the bot's ``/slack/events`` endpoint."""

    def __init__(self, bot_url: str, signing_secret: str, api: FakeSlackAPI,
                 channel: str = "C0RELEASES") -> None:
        self.bot_url, self.api, self.channel = bot_url, api, channel
        self.verifier = SignatureVerifier(signing_secret)
        self._ids = itertools.count(1)
        # event and trigger IDs must differ between sessions sharing one database (seen_events,
        # seen_triggers: a trigger seen before is refused as a replay)
        self._session = secrets.token_hex(3).upper()

    def post(self, body: str | bytes, content_type: str, *, timestamp: int | None = None,
             signature: str | None = None, headers: dict[str, str] | None = None) -> HTTPResult:
        raw = body.encode() if isinstance(body, str) else body
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = signature or self.verifier.generate_signature(timestamp=ts, body=raw)
        req = urllib.request.Request(self.bot_url, data=raw, method="POST", headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig, **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return HTTPResult(resp.status, resp.read().decode())
        except urllib.error.HTTPError as exc:
            return HTTPResult(exc.code, exc.read().decode(errors="replace"))

    def command(self, user: str, line: str, channel: str | None = None) -> HTTPResult:
        """``/sync plan docs`` typed by ``user`` -> signed slash-command request."""
        name, _, text = line.strip().partition(" ")
        channel = channel or self.channel
        n = next(self._ids)
        form = {
            "token": "standin-verification-token", "team_id": TEAM, "team_domain": "relbot",
            "channel_id": channel, "channel_name": "releases", "user_id": user,
            "user_name": user.lower(), "command": name, "text": text.strip(),
            "api_app_id": APP_ID, "is_enterprise_install": "false",
            "response_url": self.api.response_url(user, channel),
            "trigger_id": self._trigger(user, n),
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any], *, event_id: str | None = None,
              retry_num: int | None = None, event_time: float | None = None) -> HTTPResult:
        """An Events API ``event_callback`` envelope around ``event`` (``event_time``: when
        it happened, default now)."""
        eid = event_id or f"Ev{self._session}{next(self._ids):06d}"
        envelope = {
            "token": "standin-verification-token", "team_id": TEAM, "api_app_id": APP_ID,
            "event": event, "type": "event_callback", "event_id": eid,
            "event_time": int(event_time if event_time is not None else time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": "U0RELBOT", "is_bot": True}],
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(json.dumps(envelope), "application/json", headers=headers)

    def react(self, user: str, message: Message, reaction: str, *, removed: bool = False,
              event_id: str | None = None, retry_num: int | None = None,
              event_time: float | None = None, record: bool = True) -> HTTPResult:
        """``user`` adds (or removes) a reaction: Slack records it on the message (unless
        ``record`` is False: a retried delivery of an earlier event), then sends the event."""
        name = reaction.strip(":")
        if record:
            self.api.state.react(message.channel, message.ts, user, name, removed=removed)
        at = event_time if event_time is not None else time.time()
        ev = {"type": "reaction_removed" if removed else "reaction_added", "user": user,
              "reaction": name, "item_user": message.user,
              "item": {"type": "message", "channel": message.channel, "ts": message.ts},
              "event_ts": f"{at:.6f}"}
        return self.event(ev, event_id=event_id, retry_num=retry_num, event_time=at)

    def home_opened(self, user: str) -> HTTPResult:
        return self.event({"type": "app_home_opened", "user": user, "channel": "D0HOME",
                           "tab": "home", "event_ts": f"{time.time():.6f}"})

    def home_click(self, user: str, action_id: str, value: str | None = None) -> HTTPResult:
        """Click the button ``action_id`` on ``user``'s App Home tab (as last published)."""
        view = self.api.state.views.get(user) or {}
        for b in view.get("blocks", []):
            for el in [*(b.get("elements") or []), *([b["accessory"]] if b.get("accessory")
                                                     else [])]:
                if el.get("action_id") == action_id and (value is None
                                                         or el.get("value") == value):
                    break
            else:
                continue
            break
        else:
            raise LookupError(f"{user}'s home tab has no button {action_id} {value or ''}")
        payload = {
            "type": "block_actions", "team": {"id": TEAM, "domain": "relbot"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": APP_ID, "token": "standin-verification-token",
            "container": {"type": "view", "view_id": "V0HOME"},
            "trigger_id": self._trigger(user, next(self._ids)),
            "view": {**view, "id": "V0HOME"},
            "actions": [{"type": "button", "action_id": action_id, "block_id":
                         b.get("block_id", ""), "value": el.get("value", ""),
                         "action_ts": f"{time.time():.6f}"}],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}),
                         "application/x-www-form-urlencoded")

    def action(self, user: str, message: Message, action: dict[str, Any]) -> HTTPResult:
        """A ``block_actions`` payload for ``action`` clicked on ``message``."""
        payload = {
            "type": "block_actions", "team": {"id": TEAM, "domain": "relbot"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": APP_ID, "token": "standin-verification-token",
            "container": {"type": "message", "message_ts": message.ts,
                          "channel_id": message.channel, "is_ephemeral": False},
            "trigger_id": self._trigger(user, next(self._ids)),
            "channel": {"id": message.channel, "name": "releases"},
            "message": {"type": "message", "ts": message.ts, "text": message.text,
                        "blocks": message.blocks or [], "user": message.user,
                        "thread_ts": message.thread_ts},
            "response_url": self.api.response_url(user, message.channel),
            "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}),
                         "application/x-www-form-urlencoded")

    def click(self, user: str, message: Message, action_id: str,
              value: str | None = None) -> HTTPResult:
        """Click the button ``action_id`` on ``message`` (its block_id and value are found)."""
        block_id, element = _find_element(message, action_id)
        act = {"type": "button", "action_id": action_id, "block_id": block_id,
               "value": value if value is not None else element.get("value", ""),
               "text": element.get("text", {"type": "plain_text", "text": action_id})}
        return self.post_action(user, message, act)

    def tick(self, user: str, message: Message, action_id: str, selected: list[str]) -> HTTPResult:
        """Set the checkbox group ``action_id`` on ``message`` to exactly ``selected`` values."""
        block_id, element = _find_element(message, action_id)
        values = [o.get("value") for o in element.get("options", [])]
        unknown = [v for v in selected if v not in values]
        if unknown:
            raise LookupError(f"{action_id} has no option {unknown[0]!r}; options: "
                              + ", ".join(str(v) for v in values))
        opts = [o for o in element.get("options", []) if o.get("value") in selected]
        act = {"type": "checkboxes", "action_id": action_id, "block_id": block_id,
               "selected_options": opts}
        return self.post_action(user, message, act)

    post_action = action

    def _trigger(self, user: str, n: int) -> str:
        """A trigger_id the stand-in will accept once from ``views.open`` (as Slack does)."""
        tid = f"{n}.{self._session}.trigger"
        self.api.state.triggers[tid] = user
        return tid

    def choose(self, user: str, modal: Modal, block_id: str, value: str) -> HTTPResult:
        """Pick ``value`` in the select ``block_id`` of ``modal``: a ``block_actions`` from
        the view when the select dispatches actions (the bot may update the view)."""
        el = modal.set(block_id, value)
        block = next(b for b in modal.view.get("blocks", []) if b.get("block_id") == block_id)
        if el.get("type") != "static_select" or not block.get("dispatch_action") or not value:
            return HTTPResult(200, "")  # typing in a field sends nothing until submit
        opt = next(o for o in el.get("options", []) if o["value"] == value)
        payload = {
            "type": "block_actions", "team": {"id": TEAM, "domain": "relbot"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": APP_ID, "token": "standin-verification-token",
            "container": {"type": "view", "view_id": modal.id},
            "trigger_id": self._trigger(user, next(self._ids)),
            "view": modal.payload_view(),
            "actions": [{"type": "static_select", "action_id": el.get("action_id"),
                         "block_id": block_id, "selected_option": opt,
                         "action_ts": f"{time.time():.6f}"}],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}),
                         "application/x-www-form-urlencoded")

    def submit(self, user: str, modal: Modal, values: dict[str, str]) -> HTTPResult:
        """Press the modal's submit button after typing ``values``: a ``view_submission``.
        An ``errors`` answer keeps the modal open showing them; anything else closes it."""
        for block_id, value in values.items():
            modal.set(block_id, value)
        payload = {
            "type": "view_submission", "team": {"id": TEAM, "domain": "relbot"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": APP_ID, "token": "standin-verification-token",
            "trigger_id": self._trigger(user, next(self._ids)),
            "view": modal.payload_view(),
        }
        res = self.post(urlencode({"payload": json.dumps(payload)}),
                        "application/x-www-form-urlencoded")
        data = res.json if res.status == 200 else None
        st = self.api.state
        with st.lock:
            if isinstance(data, dict) and data.get("response_action") == "errors":
                modal.errors = dict(data.get("errors") or {})
                st.transcript.append(("modal-errors", modal))
            elif res.status == 200:
                modal.open, modal.errors = False, {}
                st.transcript.append(("modal-closed", modal))
        return res


def _find_element(message: Message, action_id: str) -> tuple[str, dict[str, Any]]:
    for block in message.blocks or []:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for el in elements:
            if el.get("action_id") == action_id:
                return block.get("block_id", ""), el
    raise LookupError(f"message {message.number} has no element with action_id {action_id!r}")
