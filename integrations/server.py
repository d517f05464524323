"""MedicalEnv behind an HTTP server, so that environments run on other machines than the trainer.

  python -m integrations.server [--host 127.0.0.1] [--port 8000] [--max-sessions 64] [--idle-s 300]

One session is one MedicalEnv (one episode at a time). The bodies follow OpenEnv's HTTP types
(ResetRequest/StepRequest -> {"observation", "reward", "done", "metadata"}); OpenEnv keeps sessions on its
WebSocket transport only, so the session id is this server's own: reset returns it in metadata.session_id
and step/state/close take it as "session_id".

  POST /reset  {"task_id"?, "domain"?, "split"?, "seed"?, "max_turns"?, "tool_specs"?, "session_id"?}
               -> observation {"text"}, metadata {"session_id", "info"}   (a new session unless one is named)
  POST /step   {"session_id", "action": {"text": the assistant's whole turn}}
               -> observation {"text"}, reward, done, metadata {"terminated", "truncated", "info"}
  GET  /state?session_id=...   -> the episode so far (task, turns, answer, error counts, done, and its
                                  reward breakdown as it stands: "score")
  POST /close  {"session_id"}  -> frees the session
  GET  /health                 -> {"status": "healthy", "sessions", "max_sessions"}

Limits: at most max_sessions open sessions (another reset gets 503), a session idle for idle_s seconds is
closed (a client that vanished mid-episode costs nothing after that), bodies over max_body bytes get 413.
A bad request gets a 4xx with a one-line {"error"}; nothing a client sends stops the server. Each session has
a lock, so two requests on one session run one after the other; the KB is shared (its searches hold a lock).
"""
import argparse
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import env as envmod
import kb as kbmod
from clinic import bank

MAX_BODY = 1 << 20          # bytes; MedicalEnv's own action limit is 32,768 characters


def is_whole_number(x):
    return isinstance(x, int) and not isinstance(x, bool)


class HTTPError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Session:
    def __init__(self, medical_env):
        self.env, self.lock, self.last = medical_env, threading.Lock(), time.monotonic()
        self.done = False


class Sessions:
    """The open sessions: bounded in number, closed when idle."""

    def __init__(self, max_sessions, idle_s):
        self.max_sessions, self.idle_s = max_sessions, idle_s
        self.items, self.lock = {}, threading.Lock()

    def open(self, session):
        with self.lock:
            self._expire()
            if len(self.items) >= self.max_sessions:
                raise HTTPError(503, f"server at capacity ({self.max_sessions} sessions); close one or retry")
            sid = uuid.uuid4().hex
            self.items[sid] = session
            return sid

    def get(self, sid):
        with self.lock:
            self._expire()
            session = self._session(sid)
            session.last = time.monotonic()
            return session

    def replace(self, sid, session):
        with self.lock:
            self._session(sid)
            self.items[sid] = session

    def close(self, sid):
        with self.lock:
            return self.items.pop(sid, None) is not None

    def count(self):
        with self.lock:
            self._expire()
            return len(self.items)

    def _session(self, sid):
        if not isinstance(sid, str) or sid not in self.items:
            raise HTTPError(404, f"no open session {str(sid)[:40]!r} (expired, closed or never opened)")
        return self.items[sid]

    def _expire(self):
        now = time.monotonic()
        for sid in [s for s, x in self.items.items() if now - x.last > self.idle_s]:
            del self.items[sid]


class EnvServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that hangs up mid-request is its own business; anything else is one line, not a trace."""
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            print(f"server: {type(error).__name__}: {error} ({client_address[0]})", file=sys.stderr)

    def __init__(self, address, max_sessions=64, idle_s=300.0, max_body=MAX_BODY, kb_dir=""):
        super().__init__(address, Handler)
        self.sessions = Sessions(max_sessions, idle_s)
        self.max_body = max_body
        self.kb = kbmod.open_kb(kb_dir)
        self.tasks = bank.load_tasks()
        self.by_id = bank.by_id(self.tasks)

    def new_env(self, body):
        """The MedicalEnv a reset asks for: one task by id, or the tasks of a domain and/or split."""
        if "task_id" in body:
            if body["task_id"] not in self.by_id:
                raise HTTPError(404, f"unknown task_id {str(body['task_id'])[:80]!r}")
            pool = [self.by_id[body["task_id"]]]
        else:
            pool = [t for t in self.tasks if body.get("domain") in (None, t["domain"])
                    and body.get("split") in (None, t["split"])]
            if not pool:
                where = f"domain {body.get('domain')!r}, split {body.get('split')!r}"
                raise HTTPError(404, f"no tasks in {where}")
        max_turns, specs = body.get("max_turns", 8), body.get("tool_specs", "full")
        if not is_whole_number(max_turns) or not 1 <= max_turns <= 64:
            raise HTTPError(400, "max_turns must be an integer from 1 to 64")
        if specs not in ("full", "names", "none"):
            raise HTTPError(400, "tool_specs must be full, names or none")
        return envmod.MedicalEnv(tasks=pool, max_turns=max_turns, kb=self.kb, tool_specs=specs)


def reset(server, body):
    seed = body.get("seed")
    if seed is not None and (not is_whole_number(seed) or seed < 0):
        raise HTTPError(400, "seed must be a non-negative integer")
    session = Session(server.new_env(body))
    options = {"task_id": body["task_id"]} if "task_id" in body else None
    obs, info = session.env.reset(seed=seed, options=options)
    sid = body.get("session_id")
    if sid is None:
        sid = server.sessions.open(session)
    else:                       # a new episode in an open session
        server.sessions.replace(sid, session)
    return {"observation": {"text": obs}, "reward": None, "done": False,
            "metadata": {"session_id": sid, "info": info}}


def step(server, body):
    session = server.sessions.get(body.get("session_id"))
    action = body.get("action")
    if not isinstance(action, dict) or not isinstance(action.get("text"), str):
        raise HTTPError(400, 'action must be {"text": the assistant\'s turn as a string}')
    with session.lock:
        if session.done:
            raise HTTPError(409, "the episode is over; reset to start another")
        obs, reward, terminated, truncated, info = session.env.step(action["text"])
        session.done = terminated or truncated
    return {"observation": {"text": obs}, "reward": reward, "done": session.done,
            "metadata": {"terminated": terminated, "truncated": truncated, "info": info}}


def state(server, query):
    sid = (query.get("session_id") or [None])[0]
    session = server.sessions.get(sid)
    with session.lock:
        e = session.env
        return {"session_id": sid, "task_id": e.case.task["id"] if e.case else None,
                "step_count": len(e.traj["turns"]), "turns": e.traj["turns"], "answer": e.traj.get("answer"),
                "errors": dict(e.errors), "done": session.done, "score": e.score() if e.case else None}


def close(server, body):
    if not server.sessions.close(body.get("session_id")):
        raise HTTPError(404, f"no open session {str(body.get('session_id'))[:40]!r}")
    return {"closed": True}


ROUTES = {("POST", "/reset"): reset, ("POST", "/step"): step, ("POST", "/close"): close}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive: a client reuses its connection
    # headers and body are two writes: with Nagle's algorithm on, the body would wait for the client's
    # delayed ACK (40 ms a step on Linux loopback)
    disable_nagle_algorithm = True

    def do_GET(self):
        self._answer(self._get)

    def do_POST(self):
        self._answer(self._post)

    def _get(self):
        url = urlparse(self.path)
        if url.path == "/health":
            return {"status": "healthy", "sessions": self.server.sessions.count(),
                    "max_sessions": self.server.sessions.max_sessions}
        if url.path == "/state":
            return state(self.server, parse_qs(url.query))
        raise HTTPError(404 if ("POST", url.path) not in ROUTES else 405, f"no GET {url.path[:80]}")

    def _post(self):
        path = urlparse(self.path).path
        if ("POST", path) not in ROUTES:
            raise HTTPError(404 if path not in ("/health", "/state") else 405, f"no POST {path[:80]}")
        return ROUTES["POST", path](self.server, self._body())

    def _body(self):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise HTTPError(411, "a body needs a Content-Length")
        if int(length) > self.server.max_body:
            self.close_connection = True          # the unread body must not be parsed as a request
            raise HTTPError(413, f"body of {length} bytes is over the limit of {self.server.max_body}")
        try:
            body = json.loads(self.rfile.read(int(length)) or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise HTTPError(400, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise HTTPError(400, "the body must be a JSON object")
        return body

    def _answer(self, handle):
        try:
            status, payload = 200, handle()
        except HTTPError as e:
            status, payload = e.status, {"error": str(e)}
        except Exception as e:      # noqa: BLE001  (a bug answers 500 and the server goes on)
            status, payload = 500, {"error": f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"}
        data = json.dumps(payload, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):     # quiet: one line per request would swamp a training log
        pass


def serve(host="127.0.0.1", port=8000, **kw):
    """A started server (port 0: any free one) running in a daemon thread; .shutdown() stops it."""
    server = EnvServer((host, port), **kw)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def few_malloc_arenas(n=2):
    """glibc gives threads their own malloc arenas; with a thread per connection the server's resident memory
    then climbs for a long while although its Python heap is flat (benchmarks/results/README.md, "The
    environment server"). M_ARENA_MAX (mallopt -8) caps them; a no-op off glibc."""
    import ctypes
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, n)
    except (OSError, AttributeError):
        pass


def main(argv=None):
    few_malloc_arenas()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--max-sessions", type=int, default=64)
    ap.add_argument("--idle-s", type=float, default=300.0)
    ap.add_argument("--kb", default="", help="a built KB index (rollout.kb); default: the embedded KB")
    a = ap.parse_args(argv)
    server = EnvServer((a.host, a.port), a.max_sessions, a.idle_s, kb_dir=a.kb)
    print(f"serving MedicalEnv on http://{a.host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
