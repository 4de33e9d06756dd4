"""`attngen serve`: a local web app over spec files that follows them as they are edited.

Starlette on uvicorn (ASGI), watchfiles for the files, server-sent events for the push; the
page is static HTML, JS and CSS from the package's `web/` folder (no CDN, no network).
A `live.Workspace` keeps every spec checked in this process; a change of a spec file
rebuilds what it affects, then tells every open page which specs changed, and the page
fetches the one it shows.

Safe by default:
- bound to 127.0.0.1; another interface only when named with `--host`, with a warning;
  requests whose Host is not this server's name are refused (no DNS rebinding);
- only the spec files found under the given paths are served, named by their id from the
  list; anything else (`..`, an absolute path, a symlink leading out of the paths) is
  refused with 404; the page and its three files are fixed names in the package;
- spec text is never run; the page puts every text in the document as text, and the SVG
  (made by Graphviz from escaped labels) is parsed and cleaned of scripts and handlers
  before it is shown; a Content-Security-Policy allows scripts from this server only.

Needs the `serve` extra: pip install 'attngen[serve]'.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import sys
import threading
import webbrowser
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
import watchfiles
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .live import Workspace
from .watch import STEP_MS, spec_filter

WEB = Path(__file__).resolve().parent / "web"
PAGES = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
         "/app.css": ("app.css", "text/css")}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
KEEPALIVE_S = 15


class Hub:
    """The open pages' event queues; `publish` sends one event to each."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[str]] = set()
        self.closed = False
        self.loop: asyncio.AbstractEventLoop | None = None

    def publish(self, data: dict) -> None:
        text = json.dumps(data)
        for q in self.queues:
            q.put_nowait(text)

    def end(self) -> None:
        """End every event stream (an empty message), now and from now on."""
        self.closed = True
        for q in self.queues:
            q.put_nowait("")

    def end_soon(self) -> None:
        """`end`, from a signal handler or another thread."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.end)


class _Server(uvicorn.Server):
    """uvicorn's server, which on Ctrl-C first ends the open event streams: it waits for
    open connections to finish, and a page's event stream never does."""

    def __init__(self, config: uvicorn.Config, hub: Hub) -> None:
        super().__init__(config)
        self.hub = hub

    def handle_exit(self, sig, frame) -> None:
        self.hub.end_soon()
        super().handle_exit(sig, frame)


def create_app(workspace: Workspace, *, hosts: list[str] | None = None,
               watch: bool = True) -> Starlette:
    """The app over `workspace` (built here if it holds no view yet); `watch`: follow the
    files (a test may drive `rebuild` itself)."""
    hub = Hub()
    stop = asyncio.Event()

    async def follow() -> None:
        async for changes in watchfiles.awatch(*workspace.watched(), watch_filter=spec_filter,
                                               step=STEP_MS, stop_event=stop):
            ids = await asyncio.to_thread(workspace.rebuild, {Path(p) for _, p in changes})
            if ids:
                hub.publish({"changed": sorted(ids)})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        hub.loop = asyncio.get_running_loop()
        if not workspace.views:
            await asyncio.to_thread(workspace.rebuild)
        task = asyncio.create_task(follow()) if watch else None
        yield
        stop.set()
        hub.end()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def page(request: Request) -> Response:
        name, media = PAGES[request.url.path]
        return FileResponse(WEB / name, media_type=media, headers=HEADERS)

    async def spec_list(_request: Request) -> Response:
        rows = [{"id": v.id, "group": v.group, "name": v.good.name if v.good else Path(v.id).stem,
                 "title": v.good.title if v.good else "", "ok": v.ok, "version": v.version}
                for v in sorted(workspace.views.values(), key=lambda v: (v.group, v.id))]
        return JSONResponse(rows, headers=HEADERS)

    async def spec(request: Request) -> Response:
        ident = request.query_params.get("id", "")
        view = workspace.views.get(ident)  # only ids from the list: no path is opened
        if view is None:
            return JSONResponse({"error": "no such spec"}, status_code=404, headers=HEADERS)
        return JSONResponse(view.as_dict(), headers=HEADERS)

    async def events(_request: Request) -> Response:
        queue: asyncio.Queue[str] = asyncio.Queue()
        hub.queues.add(queue)

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 500\n\n"
                while not stop.is_set() and not hub.closed:
                    try:
                        text = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if not text:
                        break
                    yield f"data: {text}\n\n"
            finally:
                hub.queues.discard(queue)

        return StreamingResponse(stream(), media_type="text/event-stream", headers=HEADERS)

    routes = [Route(path, page) for path in PAGES]
    routes += [Route("/api/specs", spec_list), Route("/api/spec", spec),
               Route("/api/events", events)]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=hosts)] if hosts else []
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.hub = hub
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(paths: list[str], *, host: str = "127.0.0.1", port: int = 8000,
          open_browser: bool = False, include: list[str] | None = None) -> int:
    """Run the app until Ctrl-C; exit status 0."""
    workspace = Workspace(paths, include or [])
    if not is_loopback(host):
        print(f"attngen: warning: serving on {host}: anyone who can reach this machine on "
              f"port {port} can read the specs under {', '.join(paths)}", file=sys.stderr)
    hosts = None if not is_loopback(host) else [host, "127.0.0.1", "localhost", "[::1]"]
    ids = workspace.rebuild()
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    broken = sum(1 for v in workspace.views.values() if not v.ok)
    print(f"serving {len(ids)} spec(s) ({broken} with errors) at {url} (Ctrl-C stops)",
          flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, (url,)).start()
    app = create_app(workspace, hosts=hosts)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=2)
    with contextlib.suppress(KeyboardInterrupt):
        _Server(config, app.state.hub).run()
    return 0
