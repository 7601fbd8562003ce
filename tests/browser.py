"""A real headless Chromium driven through the DevTools protocol, for tests of the HTML report."""

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]


class Chromium:
    """Opens ``url`` in headless Chromium; :meth:`evaluate` runs JavaScript in the page."""

    def __init__(self, url: str, profile: Path) -> None:
        self.process = subprocess.Popen(
            ["chromium", *FLAGS, f"--user-data-dir={profile}", url],
            stderr=subprocess.PIPE,
            text=True,
        )
        port = self._devtools_port()
        pages = []
        for _ in range(100):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                pages = [t for t in json.load(response) if t["type"] == "page"]
            if pages:
                break
            time.sleep(0.1)
        self.socket = connect(pages[0]["webSocketDebuggerUrl"], max_size=None)
        self.counter = 0

    def _devtools_port(self) -> int:
        for line in self.process.stderr:
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                return int(found.group(1))
        raise RuntimeError("Chromium exited before opening its DevTools port")

    def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` in the page (awaited if it is a promise)."""
        self.counter += 1
        self.socket.send(
            json.dumps(
                {
                    "id": self.counter,
                    "method": "Runtime.evaluate",
                    "params": {"expression": expression, "returnByValue": True, "awaitPromise": True},
                }
            )
        )
        while True:
            message = json.loads(self.socket.recv(timeout=120))
            if message.get("id") == self.counter:
                result = message["result"]
                if "exceptionDetails" in result:
                    raise RuntimeError(result["exceptionDetails"])
                return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> None:
        """Poll ``expression`` until it is truthy."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(expression)
            time.sleep(0.2)

    def close(self) -> None:
        self.socket.close()
        self.process.kill()
        self.process.wait()
