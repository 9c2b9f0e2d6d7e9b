"""A real HTTP server on 127.0.0.1 that imitates last.fm's API, for tests and benchmarks.

Usage:
    with FakeLastfm(api_key="k") as server:
        server.script("track.getTopTags", "Gob", "Face the Ashes",
                      Reply(body=toptags([("punk rock", 100)])))
        ...  # point a client at server.url; server.requests lists (arrival, params)

Unscripted queries get error 6 (not found); a wrong api_key gets error 10 with HTTP 403.
"""
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    """One answer: a dict body is sent as JSON, a str as it is; sent after ``delay`` seconds."""
    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


def toptags(tags):
    """The JSON last.fm sends for track/artist.getTopTags: [(name, count)] -> body."""
    return {"toptags": {"tag": [{"name": name, "count": count, "url": "https://www.last.fm/tag/x"}
                                for name, count in tags], "@attr": {}}}


def error(code, message="error"):
    return {"error": code, "message": message, "links": []}


NOT_FOUND = Reply(status=404, body=error(6, "Track not found"))


class FakeLastfm:
    """Scripted answers per (method, artist, track); each list of replies is served in order and
    its last reply repeats. Records every request with its arrival time (time.monotonic())."""

    def __init__(self, api_key, default=NOT_FOUND):
        self.api_key = api_key
        self.default = default
        self.requests = []
        self._scripts = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # clients that timed out
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/2.0/"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)

    def script(self, method, artist, track, *replies):
        with self._lock:
            self._scripts[(method, artist, track or "")] = list(replies)

    def count(self, **params):
        """How many requests had all of ``params``."""
        with self._lock:
            return sum(all(seen.get(k) == v for k, v in params.items())
                       for _, seen in self.requests)

    def _reply(self, params):
        with self._lock:
            self.requests.append((time.monotonic(), params))
            if params.get("api_key") != self.api_key:
                return Reply(status=403, body=error(10, "Invalid API key"))
            replies = self._scripts.get(
                (params.get("method"), params.get("artist"), params.get("track", "")))
            if not replies:
                return self.default
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                reply = fake._reply(dict(parse_qsl(urlsplit(self.path).query)))
                time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = body.encode("utf-8")
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
