"""RemoteMedicalEnv: a Gymnasium env whose episodes run on an environment server (integrations/server.py).

  e = RemoteMedicalEnv("http://127.0.0.1:8000", domain="triage_emergency")
  obs, info = e.reset(seed=0)
  call = '<tool_call>{"name": "get_vitals", "arguments": {}}</tool_call>'
  obs, reward, terminated, truncated, info = e.step(call)

The same observations, rewards and info as a local MedicalEnv on the same tasks and seed (info after a JSON
round trip). One keep-alive HTTP connection per env; close() frees the server's session. A server error
is an EnvServerError with the server's one-line message; the connection is re-opened once if it dropped.
"""
import http.client
import json
from urllib.parse import urlparse

from env import CHARSET, MAX_OBS_CHARS, Text, _Base


class EnvServerError(RuntimeError):
    def __init__(self, status, message):
        super().__init__(f"{status}: {message}")
        self.status = status


class RemoteMedicalEnv(_Base):
    metadata = {"render_modes": []}

    def __init__(self, url, task_id=None, domain=None, split=None, max_turns=8, tool_specs="full",
                 timeout_s=60.0):
        u = urlparse(url)
        self.host, self.port, self.timeout_s = u.hostname, u.port or 80, timeout_s
        self.spec_body = {k: v for k, v in dict(task_id=task_id, domain=domain, split=split,
                                                max_turns=max_turns, tool_specs=tool_specs).items()
                          if v is not None}
        self.session_id, self.conn = None, None
        self.observation_space = Text(max_length=MAX_OBS_CHARS, min_length=0, charset=CHARSET)
        self.action_space = Text(max_length=32768, min_length=0, charset=CHARSET)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)        # np_random, as Gymnasium expects; the episode's seed goes to the server
        body = {**self.spec_body, **(options or {}), "seed": seed, "session_id": self.session_id}
        out = self._request("POST", "/reset", body)
        self.session_id = out["metadata"]["session_id"]
        return out["observation"]["text"], out["metadata"]["info"]

    def step(self, action):
        out = self._request("POST", "/step", {"session_id": self.session_id, "action": {"text": action}})
        m = out["metadata"]
        return out["observation"]["text"], out["reward"], m["terminated"], m["truncated"], m["info"]

    def state(self):
        return self._request("GET", f"/state?session_id={self.session_id}")

    def score(self):
        """The episode's reward breakdown as it stands (MedicalEnv.score, on the server)."""
        return self.state()["score"]

    def close(self):
        if self.session_id is not None:
            try:
                self._request("POST", "/close", {"session_id": self.session_id})
            except (EnvServerError, OSError):
                pass                    # already expired, or the server is gone: nothing to free
            self.session_id = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = json.loads(resp.read() or b"{}")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()       # the server closed a kept-alive connection: open a new one, once
                self.conn = None
                if attempt:
                    raise
        if resp.status != 200:
            raise EnvServerError(resp.status, payload.get("error", ""))
        return payload
