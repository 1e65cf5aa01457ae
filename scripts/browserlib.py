"""What the browser tests share (scripts/browser-test for GraphiQL, scripts/console-test for the
console): `fathom serve --demo` on a fresh database, Debian's Chromium driven over its DevTools
protocol on a pipe (Python's standard library is all this needs), a tab and what a user does on
it, and running a check on SQLite and on PostgreSQL.

Environment (read by `binaries` and `run_on_databases`):
  FATHOM_BIN               the binary (default: debug/fathom under $CARGO_TARGET_DIR, or
                           ~/.cache/fathom-target)
  CHROMIUM                 the browser (default /usr/bin/chromium; `apt-get install -y chromium`)
  BROWSER_TEST_DATABASES   comma-separated: sqlite,postgres (default both)
  FATHOM_TEST_POSTGRES_URL a PostgreSQL URL (default postgres://postgres@127.0.0.1:5432/test); a
                           database fathom_browser_* is created on that server and dropped afterwards
"""

import base64
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

WAIT = 20.0  # seconds for any one thing the page should do


class Failure(Exception):
    pass


NAME = ["browser-test"]  # the running script's name, for its log lines


def log(message):
    print(f"{NAME[0]}: {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the server -----------------------------------------------------------------------------------


class Server:
    """`fathom serve --demo` on a fresh database, and a token made with `fathom token create`."""

    def __init__(self, binary, database_url, workdir):
        self.binary = binary
        self.env = dict(os.environ, DATABASE_URL=database_url, FATHOM_LOG="warn")
        self.port = free_port()
        self.env["FATHOM_BIND"] = f"127.0.0.1:{self.port}"
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(workdir, "server.log")
        self.proc = None
        self.token = None

    def start(self, extra_env=None):
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--demo"],
                env=dict(self.env, **(extra_env or {})),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"the server exited before it served /healthz:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise Failure(f"no /healthz after 120 s:\n{self.tail()}")
            time.sleep(0.2)
        made = subprocess.run(
            [self.binary, "token", "create", "--name", "browser-test"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        token = made.stdout.strip()
        if made.returncode != 0 or not re.fullmatch(r"fathom_[A-Za-z0-9]+", token):
            raise Failure(f"fathom token create failed: {made.stderr.strip()}")
        self.token = token

    def graphql(self, query):
        request = urllib.request.Request(
            self.base + "/api/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            body = json.load(r)
        if body.get("errors"):
            raise Failure(f"the API refused {query}: {body['errors']}")
        return body["data"]

    def tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-30:])
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fathom shuts down gracefully on Ctrl-C
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and "panicked" in self.tail():
            raise Failure(f"the server panicked:\n{self.tail()}")


# --- the browser, over the DevTools protocol on a pipe -------------------------------------------


class Browser:
    """Chromium with --remote-debugging-pipe: it reads commands on fd 3 and writes on fd 4, each
    message JSON ending in a NUL byte. Pages are attached with flat sessions."""

    def __init__(self, binary, workdir):
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # Copies out of the way of 3 and 4, which the child's ends are moved to.
        child_r, child_w = _dup_high(to_browser_r), _dup_high(from_browser_w)

        def wire_fds():
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        args = [
            binary,
            "--headless",
            "--remote-debugging-pipe",
            f"--user-data-dir={os.path.join(workdir, 'profile')}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--disable-gpu",
            "--mute-audio",
            "--hide-scrollbars",
            "--force-color-profile=srgb",
            "--window-size=1280,800",
            # Offline: every host name but 127.0.0.1 resolves to nothing.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
        self.stderr_path = os.path.join(workdir, "chromium.log")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                close_fds=False,
                preexec_fn=wire_fds,
            )
        for fd in (to_browser_r, from_browser_w, child_r, child_w):
            os.close(fd)
        self.out = to_browser_w
        self.inp = from_browser_r
        self.next_id = 0
        self.lock = threading.Condition()
        self.replies = {}
        self.events = []
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buffer = b""
        while True:
            try:
                chunk = os.read(self.inp, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self.lock:
                    self.closed = True
                    self.lock.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self.lock:
                    if "id" in message:
                        self.replies[message["id"]] = message
                    else:
                        self.events.append(message)
                    self.lock.notify_all()

    def send(self, method, params=None, session=None, timeout=WAIT):
        with self.lock:
            self.next_id += 1
            ident = self.next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.out, data) :]
        deadline = time.monotonic() + timeout
        with self.lock:
            while ident not in self.replies:
                if self.closed:
                    raise Failure(f"Chromium closed its pipe during {method}: {self.stderr_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure(f"no answer to {method} within {timeout} s")
                self.lock.wait(left)
            reply = self.replies.pop(ident)
        if "error" in reply:
            raise Failure(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def stderr_tail(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return "".join(f.readlines()[-10:])
        except OSError:
            return ""

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Failure:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.out, self.inp):
            try:
                os.close(fd)
            except OSError:
                pass


def _dup_high(fd):
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)


class Tab:
    """One page, and what a user does on it."""

    def __init__(self, browser):
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
        )

    def send(self, method, params=None, timeout=WAIT):
        return self.browser.send(method, params, self.session, timeout)

    def events(self, method):
        with self.browser.lock:
            return [
                e["params"]
                for e in self.browser.events
                if e.get("sessionId") == self.session and e["method"] == method
            ]

    def eval(self, expression):
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise Failure(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise Failure(f"{what}: not within {timeout} s")
            time.sleep(0.1)

    def open(self, url):
        loads = len(self.events("Page.loadEventFired"))
        self.send("Page.navigate", {"url": url})
        self._wait_load(loads)

    def reload(self):
        loads = len(self.events("Page.loadEventFired"))
        self.send("Page.reload", {"ignoreCache": False})
        self._wait_load(loads)

    def _wait_load(self, loads):
        deadline = time.monotonic() + WAIT
        while len(self.events("Page.loadEventFired")) <= loads:
            if time.monotonic() > deadline:
                raise Failure("the page did not load")
            time.sleep(0.05)

    def click(self, selector):
        box = self.wait_for(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: "center"}});
                const r = el.getBoundingClientRect();
                return r.width > 0 ? {{x: r.x + r.width / 2, y: r.y + r.height / 2}} : null;
            }})()""",
            f"{selector} on the page",
        )
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1},
            )

    def key(self, key, code, keycode, modifiers=0, commands=()):
        for kind in ("rawKeyDown", "keyUp"):
            params = {
                "type": kind,
                "key": key,
                "code": code,
                "windowsVirtualKeyCode": keycode,
                "modifiers": modifiers,
            }
            if kind == "rawKeyDown" and commands:
                params["commands"] = list(commands)
            self.send("Input.dispatchKeyEvent", params)

    def type_text(self, text):
        self.send("Input.insertText", {"text": text})

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def with_database(url, name):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def psql(url, sql):
    subprocess.run(
        ["psql", url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        timeout=60,
    )


def binaries(name):
    """The fathom binary and Chromium, from the environment; exits naming what is missing."""
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/fathom-target")
    binary = os.environ.get("FATHOM_BIN") or os.path.join(target, "debug", "fathom")
    if not os.access(binary, os.X_OK):
        sys.exit(f"{name}: no fathom binary at {binary} (build it, or set FATHOM_BIN)")
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(chromium, os.X_OK):
        sys.exit(f"{name}: no chromium (apt-get install -y chromium, or set CHROMIUM)")
    return binary, chromium


def run_on_databases(name, check):
    """Runs `check(server, browser, db)` on each database of BROWSER_TEST_DATABASES, each with a
    fresh database, server and browser; prints a summary and exits 1 if any failed."""
    NAME[0] = name
    binary, chromium = binaries(name)
    databases = (os.environ.get("BROWSER_TEST_DATABASES") or "sqlite,postgres").split(",")
    passed = failed = 0
    for db in databases:
        if run_one(db.strip(), binary, chromium, check):
            passed += 1
        else:
            failed += 1
    print(f"{name}: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def run_one(db, binary, chromium, check):
    workdir = tempfile.mkdtemp(prefix="fathom-browser.")
    pg_url = os.environ.get("FATHOM_TEST_POSTGRES_URL") or "postgres://postgres@127.0.0.1:5432/test"
    pg_db = None
    server = browser = None
    started = time.monotonic()
    ok = False
    try:
        if db == "sqlite":
            url = f"sqlite://{workdir}/browser.db?mode=rwc"
        elif db == "postgres":
            pg_db = f"fathom_browser_{os.getpid()}_{int(time.time())}"
            psql(pg_url, f"CREATE DATABASE {pg_db}")
            url = with_database(pg_url, pg_db)
        else:
            raise Failure(f"unknown database {db!r} (sqlite or postgres)")
        log(f"=== {db}")
        server = Server(binary, url, workdir)
        server.start()
        browser = Browser(chromium, workdir)
        check(server, browser, db)
        ok = True
    except (Failure, subprocess.CalledProcessError) as e:
        detail = e.stderr.decode(errors="replace") if isinstance(e, subprocess.CalledProcessError) else ""
        log(f"FAIL ({db}): {e} {detail}")
        if server:
            log(f"the end of the server's log:\n{server.tail()}")
    finally:
        if browser:
            browser.close()
        if server:
            try:
                server.stop()
            except Failure as e:  # a panic fails the run even when every check passed
                log(f"FAIL ({db}): {e}")
                ok = False
        if pg_db:
            try:
                psql(pg_url, f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")
            except subprocess.CalledProcessError:
                log(f"could not drop database {pg_db}")
        shutil.rmtree(workdir, ignore_errors=True)
    if ok:
        log(f"{db} passed in {time.monotonic() - started:.1f} s")
    return ok


