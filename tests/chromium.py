"""Open a page in a real headless Chromium (Debian's ``chromium``) over the DevTools
protocol: what the console said, where elements are, and a screenshot::

    async with Chromium.start(tmp_path) as browser:
        page = await browser.open(Path("report.html"))
        page.errors                      # console errors, uncaught exceptions, failed loads
        boxes = await browser.boxes("figure svg")
        png = await browser.screenshot(boxes[0])

The browser attaches before it navigates, so nothing the page logs while loading is
missed; ``make chromium`` installs the package.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp


class ChromiumUnavailable(RuntimeError):
    pass


@dataclass
class Page:
    errors: list[str] = field(default_factory=list)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)


class Chromium:
    def __init__(self, proc: subprocess.Popen[bytes], ws: Any, http: aiohttp.ClientSession):
        self.proc, self.ws, self.http = proc, ws, http
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.page = Page()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    def start(cls, profile: Path) -> _Starter:
        return _Starter(profile)

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data:
                future = self.waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
                continue
            method, params = data.get("method"), data.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                self.page.errors.append(f"console.{params['type']}: {args}")
            elif method == "Runtime.exceptionThrown":
                self.page.errors.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                entry = params["entry"]
                self.page.errors.append(f"{entry.get('source')}: {entry.get('text')}")
            elif method == "Page.loadEventFired":
                self.page.loaded.set()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        n = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[n] = future
        await self.ws.send_str(json.dumps({"id": n, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def open(self, path: Path, width: int = 1200, height: int = 900) -> Page:
        self.page = Page()
        for domain in ("Runtime", "Log", "Page"):
            await self.send(f"{domain}.enable")
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=False)  # fmt: skip
        await self.send("Page.navigate", url=path.resolve().as_uri())
        await asyncio.wait_for(self.page.loaded.wait(), 30)
        await asyncio.sleep(0.3)  # late console messages
        return self.page

    async def evaluate(self, expression: str) -> Any:
        reply = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return reply["result"].get("value")

    async def boxes(self, selector: str) -> list[dict[str, float]]:
        """Page coordinates of every element matching *selector*."""
        script = (
            f"[...document.querySelectorAll({json.dumps(selector)})].map(e => {{"
            "const r = e.getBoundingClientRect();"
            "return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height,"
            " id: (e.closest('figure') || e).id}; })"
        )
        return list(await self.evaluate(script))

    async def screenshot(self, clip: dict[str, float] | None = None) -> bytes:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if clip is not None:
            params["clip"] = {k: clip[k] for k in ("x", "y", "width", "height")} | {"scale": 1}
        return base64.b64decode((await self.send("Page.captureScreenshot", **params))["data"])

    async def close(self) -> None:
        self.reader.cancel()
        await self.ws.close()
        await self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _Starter:
    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.browser: Chromium | None = None

    async def __aenter__(self) -> Chromium:
        exe = shutil.which("chromium")
        if exe is None:
            raise ChromiumUnavailable("chromium is not installed (make chromium)")
        proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stderr is not None
        url = None
        loop = asyncio.get_running_loop()
        for _ in range(200):
            line = (await loop.run_in_executor(None, proc.stderr.readline)).decode()
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                url = found.group(1)
                break
            if not line and proc.poll() is not None:
                break
        if url is not None:  # keep reading, so chromium never blocks on a full pipe
            drain = threading.Thread(target=proc.stderr.read, daemon=True)
            drain.start()
        if url is None:
            proc.kill()
            proc.wait()
            proc.stderr.close()
            raise ChromiumUnavailable("chromium did not start its DevTools endpoint")
        http = aiohttp.ClientSession()
        port = url.split(":")[2].split("/")[0]
        async with http.get(f"http://127.0.0.1:{port}/json/list") as reply:
            targets = await reply.json()
        page = next(t for t in targets if t["type"] == "page")
        ws = await http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        self.browser = Chromium(proc, ws, http)
        self.drain = drain
        return self.browser

    async def __aexit__(self, *exc: object) -> None:
        if self.browser is not None:
            await self.browser.close()
            self.drain.join(10)
            assert self.browser.proc.stderr is not None
            self.browser.proc.stderr.close()
