"""Headless Chromium driven over its DevTools protocol (websocket-client), for the sign-off page test.

Debian's `chromium` with a fresh --user-data-dir; no browser download. Records console messages,
log entries, exceptions and every network request while it loads one page.
"""
from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket  # websocket-client

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Page:
    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method: str, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 60.0):
        end = time.time() + timeout
        for e in self.events:
            if e.get("method") == method:
                return e
        while time.time() < end:
            self.ws.settimeout(max(0.1, end - time.time()))
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return msg
        raise TimeoutError(method)

    def drain(self, seconds: float) -> None:
        end = time.time() + seconds
        while time.time() < end:
            self.ws.settimeout(max(0.05, end - time.time()))
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                break


def load(url: str, screenshot: Path) -> dict:
    """Open `url`, return {'console_errors', 'requests', 'eval': {...}} and save a PNG screenshot."""
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="lbc-chromium-")
    proc = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                             "--disable-component-update", "--no-first-run", "--disable-sync",
                             "--disable-default-apps", f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
                             "--remote-debugging-address=127.0.0.1", "--window-size=1400,1000", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        targets = None
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=1) as r:
                    targets = [t for t in json.load(r) if t.get("type") == "page"]
                if targets:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        assert targets, "chromium did not open its DevTools endpoint"
        ws = websocket.create_connection(targets[0]["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        page = Page(ws)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.call(f"{domain}.enable")
        page.events.clear()
        page.call("Page.navigate", url=url)
        page.wait_for("Page.loadEventFired")
        page.drain(0.5)
        probe = page.call("Runtime.evaluate", returnByValue=True, expression="""({
            verdict: (document.getElementById('verdict') || {}).textContent,
            matrixTables: document.querySelectorAll('table.matrix').length,
            matrixRows: document.querySelectorAll('table.matrix tr').length,
            plots: Array.from(document.querySelectorAll('figure.plot img')).filter(
                i => i.complete && i.naturalWidth > 0).length,
            noMeasurements: !!document.getElementById('no-measurements'),
            signoff: !!document.getElementById('signoff'),
            environment: !!document.getElementById('environment'),
        })""")["result"]["value"]
        shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
    errors = []
    requests = []
    for e in page.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            errors.append(str(p.get("args")))
        elif m == "Runtime.exceptionThrown":
            errors.append(str(p.get("exceptionDetails")))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            errors.append(p["entry"].get("text", ""))
        elif m == "Network.requestWillBeSent":
            requests.append(p.get("request", {}).get("url", ""))
    return {"console_errors": errors, "requests": requests, "eval": probe}
