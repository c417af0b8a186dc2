"""The floor of bench/startup.py and bench/ack.py: a bare Bolt app on relbot's HTTP server.

    python bench/bare.py LIMITS_JSON [--pbr]

One ``/release`` listener that only acks (with a usage-sized ephemeral text), ``GET
/healthz`` answering ``ok``, served by waitress with exactly the settings ``relbot run``
uses (``bot.wsgi.ServerLimits``, passed in by the bench as JSON so this process imports
nothing of relbot). ``--pbr`` builds the app with ``process_before_response=True`` (the ack
is answered when the listener returns instead of Bolt polling for it every 10 ms).
Prints ``bare listening on http://127.0.0.1:PORT/slack/events`` on stderr.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    limits = json.loads(sys.argv[1])
    pbr = "--pbr" in sys.argv[2:]
    from slack_bolt import App
    from slack_bolt.request import BoltRequest
    from slack_sdk import WebClient
    from waitress.server import create_server

    url = os.environ["SLACK_API_URL"]
    client = WebClient(token="xoxb-bare", base_url=url if url.endswith("/") else url + "/")
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"],
              process_before_response=pbr)

    @app.command("/release")
    def ack_only(ack):  # noqa: ANN001, ANN202
        ack(response_type="ephemeral", text="usage")

    def wsgi(environ, start_response):  # noqa: ANN001, ANN202
        if environ["REQUEST_METHOD"] == "GET":
            status, body, ctype = 200, b"ok", "text/plain"
        else:
            n = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(n) if n else b""
            headers = {k[5:].replace("_", "-").lower(): [v] for k, v in environ.items()
                       if k.startswith("HTTP_")}
            headers["content-type"] = [environ.get("CONTENT_TYPE", "")]
            resp = app.dispatch(BoltRequest(body=raw.decode(), headers=headers))
            status, body, ctype = resp.status, (resp.body or "").encode(), "application/json"
        start_response(f"{status} OK", [("Content-Type", ctype),
                                        ("Content-Length", str(len(body)))])
        return [body]

    server = create_server(wsgi, host="127.0.0.1", port=0, clear_untrusted_proxy_headers=True,
                           expose_tracebacks=False, **limits)
    print(f"bare listening on http://127.0.0.1:{server.effective_port}/slack/events",
          file=sys.stderr, flush=True)
    server.run()


if __name__ == "__main__":
    main()
