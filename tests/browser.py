"""Open a report in headless Debian Chromium over the DevTools protocol: console errors, what
the page shows, a screenshot. Used by the report test and by `make report-screenshot`:

    python tests/browser.py out/demo/report.html docs/report-demo.png
"""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# /work/.library/env/machines/python.md: without the background-networking flags, Chromium's
# connections are refused by the closed network many at a time.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--window-size=1200,900", "--hide-scrollbars"]

# What the test reads off the page: the summary card, every table cell's length, the images.
PAGE_FACTS = """JSON.stringify({
  card: Array.from(document.querySelectorAll('#summary tr')).map(r =>
          Array.from(r.children).map(c => c.innerText.trim())),
  verdict: (document.querySelector('#summary .verdict') || {}).innerText || null,
  firstHeading: (document.querySelector('body > h1 ~ *  h2') || {}).innerText || null,
  cells: Array.from(document.querySelectorAll('td,th')).map(c => c.innerText.trim()),
  images: Array.from(document.images).map(i => [i.complete && i.naturalWidth > 0, i.src.slice(0, 22)]),
  height: document.documentElement.scrollHeight,
})"""


def available() -> str | None:
    """None when Chromium can run here, else why not."""
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is not installed (Debian: apt-get install -y chromium; `make test-deps` does it as root)"
    try:
        import websocket  # noqa: F401 - the DevTools client
    except ImportError:
        return "websocket-client is not installed (pip install -e '.[test]')"
    return None


class Page:
    """One tab, driven by DevTools commands; console errors are collected as they come."""

    def __init__(self, ws_url: str):
        import websocket

        self._ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self._next = 0
        self.errors: list[str] = []
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params) -> dict:
        self._next += 1
        self._ws.send(json.dumps({"id": self._next, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == self._next:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            message = json.loads(self._ws.recv())
            self._event(message)
            if message.get("method") == event:
                return
        raise TimeoutError(f"no {event} within {timeout} s")

    def _event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(params["entry"].get("text", ""))

    def open(self, path: Path) -> None:
        self.send("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def screenshot(self, path: Path, width: int = 1200, height: int = 1400) -> None:
        """The top of the page (the summary card first), as a person opening it sees it."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        shot = self.send("Page.captureScreenshot", format="png", clip={"x": 0, "y": 0, "width": width,
                                                                        "height": height, "scale": 1})
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self._ws.close()


@contextmanager
def chromium_page():
    """A fresh headless Chromium (its own empty profile) with one blank tab."""
    profile = Path(tempfile.mkdtemp(prefix="edgeconv-chromium-"))
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    page = None
    try:
        page = Page(_page_socket(profile, proc))
        yield page
    finally:
        if page is not None:
            page.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _page_socket(profile: Path, proc, timeout: float = 30) -> str:
    """Chromium writes the port it chose to DevToolsActivePort; the tab is listed at /json."""
    port_file, end = profile / "DevToolsActivePort", time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode} before it listened")
        if port_file.is_file() and port_file.read_text().strip():
            port = port_file.read_text().split()[0]
            no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # an http_proxy must not take it
            with no_proxy.open(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                pages = [t for t in json.load(response) if t["type"] == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise TimeoutError(f"chromium did not listen within {timeout} s")


def main(report: str, screenshot: str) -> None:
    why = available()
    if why:
        sys.exit(why)
    with chromium_page() as page:
        page.open(Path(report))
        page.screenshot(Path(screenshot))
        if page.errors:
            sys.exit(f"console errors in {report}: {page.errors}")
    print(f"{screenshot}: the top of {report} in headless Chromium")


if __name__ == "__main__":
    main(*sys.argv[1:3])
