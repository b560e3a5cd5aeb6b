"""The dashboard's Starlette application: GET routes over DIR, guarded by Host and token checks.

    /                     the runs page (static/index.html)
    /run?id=RUN           a run's page (static/run.html)
    /sweep?folder=S       a sweep's page (static/sweep.html)
    /static/NAME          the pages' scripts and style; plotly.min.js from the plotly package
    /api/runs             the runs table (compare's), ?filter=...&sort=...&group=0&all=1
    /api/study            each run's metric and differing keys, in start order, ?metric=auc
    /api/folders          the folders below DIR that hold runs (a sweep's trials), and the sweeps
    /api/sweep            a sweep directory's trials (sweep.csv) and best spec, ?folder=S
    /api/run              a run: spec, environment, metrics, history, points, figures, ?id=RUN
    /api/run/state        its state and history (what a live page polls)
    /api/run/plot         one of the figures in its plots/, ?name=roc.png
    /api/roc              the ROC curves of ?run=A&run=B (binary runs), ratios to ?reference=A
    /api/roc/figure       the figure `expctl roc` draws of them, ?hep=1&format=png|pdf
    /api/histories        their history.csv (learning curves overlay)
    /api/scores           their test score distributions

Every route naming runs also takes `folder=A/B`: the runs of a folder below DIR, not DIR's own.
Nothing here writes: every route answers GET (and HEAD) only, any other method is 405. Pages
hold no run data: their scripts fetch JSON and insert it as text. Every answer carries a
Content-Security-Policy that allows scripts from this server only, and no third-party request.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from functools import cache
from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from expctl.errors import BadInputError
from expctl.runs import layout
from expctl.runs.atomic import to_json
from expctl.runs.view import RunView
from expctl.ui import payloads, safety
from expctl.views.compare import OptionError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_COOKIE = "expctl_ui_token"
#: At most this many runs in one overlay.
MAX_OVERLAY_RUNS = 20
#: Folders of runs whose reads are kept in memory at once (DIR always is).
MAX_FOLDERS_KEPT = 8

#: Served files: name -> media type (a fixed list: no path from a request reaches the disk).
STATIC = {
    "app.css": "text/css; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
    "runs.js": "text/javascript; charset=utf-8",
    "run.js": "text/javascript; charset=utf-8",
    "sweep.js": "text/javascript; charset=utf-8",
}
PAGES = {"/": "index.html", "/run": "run.html", "/sweep": "sweep.html"}

SECURITY_HEADERS = {
    # plotly.js adds <style> elements and style attributes, hence 'unsafe-inline' for styles only
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
}


@cache
def _static(name: str) -> bytes:
    if name == "plotly.min.js":
        return (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    return (resources.files("expctl.ui") / "static" / name).read_bytes()


@cache
def _static_etag(name: str) -> str:
    return '"' + hashlib.sha1(_static(name), usedforsecurity=False).hexdigest() + '"'


def _json(data: Any, request: Request) -> Response:
    """JSON (NaN as null) with an ETag; 304 when the browser already has this answer."""
    try:  # compact: the runs table of 1,000 runs is half the size of indented JSON
        body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:  # a NaN: null, as in run files
        body = to_json(data).encode()
    etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'
    headers = {"cache-control": "no-cache", "etag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type="application/json")


def _error(message: str, status: int, **extra: Any) -> Response:
    body = json.dumps({"error": message, **extra}) + "\n"
    return Response(body, status, media_type="application/json")


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    return default if value is None else value.lower() in ("1", "true", "yes", "on")


def create_app(
    directory: Path, *, token: str | None = None, loopback: bool = True, warm: bool = False
) -> Guard:
    """The dashboard over the runs directly inside `directory`.

    `token`: every request must carry it (query `token`, which sets a cookie, the cookie, or
    `Authorization: Bearer`). `loopback`: the server listens on loopback only, so the Host header
    must name loopback too (a web page cannot reach it by DNS rebinding). `warm`: start reading
    DIR's runs at once, in a thread.
    """
    root = Path(directory).resolve()
    sources: dict[Path, payloads.RunsSource] = {root: payloads.RunsSource(root)}
    lock = threading.Lock()
    if warm:  # read DIR's runs while the browser opens: its first table comes from memory
        threading.Thread(target=sources[root].load, name="expctl-ui-warm", daemon=True).start()

    def source_for(request: Request) -> payloads.RunsSource:
        """The runs of the request's folder (DIR by default), each folder's kept in memory."""
        path = safety.folder_path(root, request.query_params.get("folder"))
        with lock:
            if path not in sources:
                if len(sources) >= MAX_FOLDERS_KEPT:  # forget the oldest folder but DIR's
                    del sources[next(k for k in sources if k != root)]
                sources[path] = payloads.RunsSource(path, boundary=root)
            return sources[path]

    def one_run(request: Request) -> Path:
        folder = request.query_params.get("folder")
        return safety.run_path(root, request.query_params.get("id", ""), folder)

    def run_paths(request: Request) -> list[Path]:
        ids = request.query_params.getlist("run")
        if not ids:
            raise safety.Refused("give runs: ?run=ID&run=ID", 400)
        if len(ids) > MAX_OVERLAY_RUNS:
            raise safety.Refused(f"at most {MAX_OVERLAY_RUNS} runs in one overlay", 400)
        folder = request.query_params.get("folder")
        return [safety.run_path(root, i, folder) for i in dict.fromkeys(ids)]

    def page(request: Request) -> Response:
        return Response(_static(PAGES[request.url.path]), media_type="text/html; charset=utf-8")

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            media = "text/javascript; charset=utf-8"
        elif name in STATIC:
            media = STATIC[name]
        else:
            return _error(f"no file {name!r}", 404)
        # revalidated by ETag: plotly.min.js (4.8 MB) is sent once per browser, not per page
        headers = {"cache-control": "no-cache", "etag": _static_etag(name)}
        if request.headers.get("if-none-match") == headers["etag"]:
            return Response(status_code=304, headers=headers)
        return Response(_static(name), media_type=media, headers=headers)

    def api_runs(request: Request) -> Response:
        table = payloads.runs_table(
            source_for(request),
            filters=request.query_params.getlist("filter"),
            sort=request.query_params.get("sort") or None,
            group=_flag(request, "group", True),
            every_metric=_flag(request, "all", False),
        )
        return _json(table, request)

    def api_run(request: Request) -> Response:
        return _json(payloads.run_detail(one_run(request)), request)

    def api_run_state(request: Request) -> Response:
        return _json(payloads.run_state(RunView(one_run(request))), request)

    def api_run_plot(request: Request) -> Response:
        name = request.query_params.get("name", "")
        data = payloads.run_plot(RunView(one_run(request)), name)
        if data is None:
            raise safety.Refused(f"no figure {name!r} in the run's plots", 404)
        return Response(data, media_type="image/png", headers={"cache-control": "no-cache"})

    def api_roc(request: Request) -> Response:
        reference = request.query_params.get("reference") or None
        return _json(payloads.roc_overlay(run_paths(request), reference), request)

    def api_study(request: Request) -> Response:
        data = payloads.study(
            source_for(request),
            metric=request.query_params.get("metric") or None,
            filters=request.query_params.getlist("filter"),
        )
        return _json(data, request)

    def api_folders(request: Request) -> Response:
        folders = safety.run_folders(root)
        # a sweep directory holds its trial runs in trials/: DIR itself, or a folder below it
        sweeps = [
            folder.rpartition("/")[0]
            for folder in folders
            if folder.rpartition("/")[2] == layout.SWEEP_TRIALS
            and payloads.is_sweep(safety.folder_path(root, folder.rpartition("/")[0]))
        ]
        return _json({"folders": folders, "sweeps": sweeps}, request)

    def api_sweep(request: Request) -> Response:
        folder = request.query_params.get("folder") or ""
        path = safety.folder_path(root, folder)
        if not payloads.is_sweep(path):
            raise safety.Refused(
                f"no sweep in {folder or 'DIR'!r} (no {layout.SWEEP_YAML} or {layout.SWEEP_CSV})"
            )
        outside = safety.links_out(root, path)
        if outside:
            raise safety.Refused(f"{outside[0]} is a symbolic link out of DIR", 403)
        data = payloads.sweep_detail(path)
        trials = "/".join(p for p in (folder, layout.SWEEP_TRIALS) if p)
        fits = len(trials.split("/")) <= safety.MAX_FOLDER_DEPTH
        data["folder"] = folder
        data["trials_folder"] = trials if data.pop("has_trials") and fits else None
        return _json(data, request)

    def api_histories(request: Request) -> Response:
        return _json(payloads.histories(run_paths(request)), request)

    def api_scores(request: Request) -> Response:
        return _json(payloads.score_distributions(run_paths(request)), request)

    def api_roc_figure(request: Request) -> Response:
        fmt = request.query_params.get("format", "png")
        if fmt not in payloads.FIGURE_FORMATS:
            raise safety.Refused(
                f"format {fmt!r}: one of {', '.join(payloads.FIGURE_FORMATS)}", 400
            )
        hep = _flag(request, "hep", False)
        paths = run_paths(request)
        data = payloads.roc_figure_bytes(paths, hep=hep, fmt=fmt)
        stem = ("rejection" if hep else "roc") + ("_overlay" if len(paths) > 1 else "")
        return Response(
            data,
            media_type=payloads.FIGURE_FORMATS[fmt],
            headers={"content-disposition": f'attachment; filename="{stem}.{fmt}"'},
        )

    routes = [
        *(Route(path, page, methods=["GET"]) for path in PAGES),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/api/runs", api_runs, methods=["GET"]),
        Route("/api/run", api_run, methods=["GET"]),
        Route("/api/run/state", api_run_state, methods=["GET"]),
        Route("/api/run/plot", api_run_plot, methods=["GET"]),
        Route("/api/roc", api_roc, methods=["GET"]),
        Route("/api/roc/figure", api_roc_figure, methods=["GET"]),
        Route("/api/histories", api_histories, methods=["GET"]),
        Route("/api/folders", api_folders, methods=["GET"]),
        Route("/api/study", api_study, methods=["GET"]),
        Route("/api/sweep", api_sweep, methods=["GET"]),
        Route("/api/scores", api_scores, methods=["GET"]),
    ]

    def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, safety.Refused)
        return _error(str(exc), exc.status)

    def bad_option(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OptionError)
        return _error(str(exc), 400, option=exc.option)

    def bad_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadInputError)
        return _error(exc.message, 400)

    app = Starlette(
        routes=routes,
        exception_handlers={
            safety.Refused: refused,
            OptionError: bad_option,
            BadInputError: bad_input,
        },
    )
    return Guard(app, token=token, loopback=loopback)


class Guard:
    """ASGI middleware in front of everything: methods, Host, token, then security headers.

    GET and HEAD only (anything else: 405, before a route is looked up). With `loopback`, a Host
    header that is not loopback is refused (400). With a token, a request without it is refused
    (401); a page opened with `?token=` gets it as an HttpOnly, SameSite=Strict cookie and is
    redirected to the same address without it, so the token leaves the address bar and history.
    """

    def __init__(self, app: ASGIApp, *, token: str | None, loopback: bool) -> None:
        self.app = app
        self.token = token
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for key, value in SECURITY_HEADERS.items():
                    if key.encode() not in names:
                        headers.append((key.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        request = Request(scope)
        if scope["method"] not in ("GET", "HEAD"):
            response = _error("read-only: GET requests only", 405)
            response.headers["allow"] = "GET, HEAD"
            await response(scope, receive, send_secured)
            return
        if self.loopback and not safety.is_loopback(
            safety.host_of(request.headers.get("host", ""))
        ):
            await _error("Host must be 127.0.0.1 or localhost", 400)(scope, receive, send_secured)
            return
        if self.token is not None:
            answer = self._check_token(request)
            if answer is not None:
                await answer(scope, receive, send_secured)
                return
        await self.app(scope, receive, send_secured)

    def _check_token(self, request: Request) -> Response | None:
        """None when the request carries the token; else the answer (401, or the redirect)."""
        assert self.token is not None
        given_query = request.query_params.get("token")
        if safety.token_matches(given_query, self.token):
            query = [(k, v) for k, v in parse_qsl(request.url.query) if k != "token"]
            target = request.url.path + (f"?{urlencode(query)}" if query else "")
            response = Response(status_code=303, headers={"location": target})
            response.set_cookie(
                TOKEN_COOKIE, self.token, httponly=True, samesite="strict", path="/"
            )
            return response
        cookie = SimpleCookie()
        try:
            cookie.load(request.headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is no token
            cookie = SimpleCookie()
        given_cookie = cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None
        auth = request.headers.get("authorization", "")
        given_bearer = auth[7:] if auth.lower().startswith("bearer ") else None
        if safety.token_matches(given_cookie, self.token) or safety.token_matches(
            given_bearer, self.token
        ):
            return None
        return _error(
            "this dashboard needs its token: open the address `expctl ui` printed "
            "(http://HOST:PORT/?token=...)",
            401,
        )


__all__ = [
    "MAX_FOLDERS_KEPT",
    "MAX_OVERLAY_RUNS",
    "PAGES",
    "STATIC",
    "TOKEN_COOKIE",
    "Guard",
    "create_app",
]
