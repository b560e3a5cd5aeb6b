"""Start the dashboard: bind the socket (so a busy port is a clear error), print the URL, serve.

uvicorn runs the Starlette app with its access log off (a token in a URL must not reach a log)
and stops on Ctrl-C. The socket is bound here and handed to uvicorn, so `--port 0` picks a free
port and the printed URL names the port really used.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from expctl.errors import BadInputError
from expctl.ui import safety

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket listening on (host, port), IPv4 or IPv6; BadInputError (exit 2) saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BadInputError(f"--host {host!r}: not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        # listening now: a browser opening the printed URL waits in the backlog until uvicorn
        # accepts, instead of being refused while the server starts
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise BadInputError(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port "
            "(--port 0 picks a free one) or --host"
        ) from None
    return sock


def url_of(sock: socket.socket, token: str | None = None) -> str:
    """The address a browser opens: http://HOST:PORT/ (IPv6 in brackets), with ?token=."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def serve(
    directory: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the dashboard over `directory` until interrupted.

    On loopback no token is needed; on any other host a fresh token is made and printed once,
    inside the URL, and every request must carry it.
    """
    import uvicorn

    from expctl.ui.app import create_app

    loopback = safety.is_loopback(host)
    token = None if loopback else safety.new_token()
    sock = bind(host, port)
    app = create_app(directory, token=token, loopback=loopback, warm=True)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, server_header=False, lifespan="off"
    )
    url = url_of(sock, token)
    echo(f"expctl ui: {Path(directory).resolve()} (read-only)")
    if token:
        echo(f"open {url}")
        echo("the token is printed only here; every request needs it (Ctrl-C stops)")
    else:
        echo(f"open {url}  (Ctrl-C stops)")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "bind", "serve", "url_of"]
