"""Drive the Debian ``chromium`` headless over the DevTools protocol on a pipe (no port, no
download, no extra package): open a page, query it, ask which fonts drew a node, screenshot.

Used by the browser tests; a dashboard test can use it the same way.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--mute-audio", "--remote-debugging-pipe")


def chromium_path() -> str | None:
    """The Debian chromium binary, or None when it is not installed."""
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    return path or None


class Chromium:
    """One headless Chromium with one page, spoken to over ``--remote-debugging-pipe``.

    Args:
        timeout_s: Longest wait for any one answer or event.
        width: Viewport width in CSS pixels.
        height: Viewport height.
    """

    def __init__(self, timeout_s: float = 30.0, width: int = 1280, height: int = 900) -> None:
        binary = chromium_path()
        if binary is None:
            raise FileNotFoundError(CHROMIUM)
        self.timeout_s = timeout_s
        self._profile = tempfile.mkdtemp(prefix="tierline-chromium-")
        to_child, self._out = os.pipe()
        self._in, from_child = os.pipe()

        def wire() -> None:
            # in the child: the protocol pipes become fds 3 and 4, the only inheritable
            # descriptors besides 0-2 (Python opens every other one non-inheritable)
            a, b = os.dup(to_child), os.dup(from_child)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self._profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, close_fds=False)
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        try:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target,
                                     flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "DOM", "CSS"):
                self.send(f"{domain}.enable")
            self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------- protocol

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise ConnectionError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer (events meanwhile are kept)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """A command to the page."""
        return self.call(method, self.session, **params)

    def wait_event(self, method: str) -> dict[str, Any]:
        """Wait for the page's next ``method`` event."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(i).get("params", {})
            self._events.append(self._read(deadline))

    # ----------------------------------------------------------------- page

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self._events = [e for e in self._events if e.get("method") != "Page.loadEventFired"]
        self.send("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def fonts_for(self, selector: str) -> list[dict[str, Any]]:
        """The platform fonts that drew the text of the first node matching ``selector``."""
        root = self.send("DOM.getDocument", depth=0)["root"]["nodeId"]
        node = self.send("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        if not node:
            raise LookupError(f"no node matches {selector}")
        return self.send("CSS.getPlatformFontsForNode", nodeId=node)["fonts"]

    def screenshot(self, path: Path) -> bytes:
        """A PNG of the whole page (not only the viewport), written to ``path``."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        png = base64.b64decode(self.send(
            "Page.captureScreenshot", format="png", captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                  "scale": 1})["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return png

    def pixel_stats(self, png: bytes) -> dict[str, int]:
        """Decode a PNG in the browser itself: its size, and how many sampled pixels are
        not near-white and how many distinct colours they have."""
        data = base64.b64encode(png).decode()
        return self.evaluate(f"""new Promise((ok, fail) => {{
            const img = new Image();
            img.onerror = () => fail('not a PNG');
            img.onload = () => {{
                const c = document.createElement('canvas');
                c.width = img.width; c.height = img.height;
                const g = c.getContext('2d'); g.drawImage(img, 0, 0);
                const px = g.getImageData(0, 0, c.width, c.height).data;
                let inked = 0; const colours = new Set();
                for (let i = 0; i < px.length; i += 4 * 7) {{
                    if (px[i] < 235 || px[i + 1] < 235 || px[i + 2] < 235) inked++;
                    colours.add((px[i] >> 3) << 10 | (px[i + 1] >> 3) << 5 | px[i + 2] >> 3);
                }}
                ok({{width: c.width, height: c.height, inked: inked, colours: colours.size}});
            }};
            img.src = 'data:image/png;base64,{data}';
        }})""")

    def close(self) -> None:
        """End the browser this object started, and remove its profile."""
        for fd in (self._out, self._in):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
