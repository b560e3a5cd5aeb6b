"""`expctl ui`: a local, read-only web dashboard over a folder of run directories.

The server (Starlette on uvicorn, the optional extra `expctl[ui]`) answers GET requests only and
reads runs through `expctl.runs.view` and the views' own functions (`expctl.views.compare`,
`expctl.views.roc`), like the commands do; it never imports TensorFlow. Pages are static files
(`static/`) whose scripts fetch JSON and insert every value as text; the charts are drawn by
plotly.js, served from the installed `plotly` package (no CDN, no network).

    payloads   what the pages show, as JSON-ready dicts (no web framework)
    safety     run ids -> paths inside DIR only; the access token; loopback hosts
    app        the Starlette application: routes, token and Host checks, security headers
    server     binds the socket, prints the URL, runs uvicorn
"""

from __future__ import annotations

import importlib.util

#: The packages the dashboard needs beyond expctl's own dependencies (the `ui` extra).
REQUIREMENTS = ("starlette", "uvicorn", "plotly")
INSTALL_HINT = "install them with: pip install 'expctl[ui]' (or, in a clone: uv sync --extra ui)"


def missing_requirements() -> list[str]:
    """The packages of REQUIREMENTS that are not installed (looked up without importing them)."""
    return [name for name in REQUIREMENTS if importlib.util.find_spec(name) is None]


__all__ = ["INSTALL_HINT", "REQUIREMENTS", "missing_requirements"]
