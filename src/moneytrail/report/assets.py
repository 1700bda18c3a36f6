"""Offline assets of the HTML report: the inlined graph library and safe JSON.

The network chart uses vis-network, read at report time from the copy the
``pyvis`` package ships (PyPI), so no JavaScript is vendored in this
repository and the report never fetches anything.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from moneytrail.errors import MoneytrailError

VIS_VERSION = "9.1.2"
VIS_LICENCE = (
    f"vis-network {VIS_VERSION}, © 2011-2017 Almende B.V. and visjs contributors, "
    "dual-licensed Apache-2.0 / MIT; inlined from the pyvis package (BSD-3-Clause)"
)

_STATIC = Path(__file__).parent / "static"


@lru_cache(maxsize=1)
def vis_network() -> tuple[str, str]:
    """(JavaScript, CSS) of vis-network, from the installed pyvis package."""
    spec = importlib.util.find_spec("pyvis")
    if spec is None or not spec.submodule_search_locations:
        raise MoneytrailError(
            "the HTML report needs the pyvis package (it ships the vis-network chart library)",
            hint="pip install pyvis",
        )
    for root in spec.submodule_search_locations:
        folder = Path(root) / "lib" / f"vis-{VIS_VERSION}"
        js, css = folder / "vis-network.min.js", folder / "vis-network.css"
        if js.exists() and css.exists():
            return js.read_text(encoding="utf-8"), css.read_text(encoding="utf-8")
    raise MoneytrailError(
        f"vis-network {VIS_VERSION} not found in the installed pyvis package",
        hint="pip install 'pyvis==0.3.2'",
    )


def inline_script(source: str) -> str:
    """JavaScript safe to place inside <script>: nothing in it can end the element."""
    return source.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def static_text(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def safe_json(value: Any) -> Markup:
    """JSON safe inside a <script> element: no `</script>`, `<!--` or line separators."""
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    for raw, escaped in _JSON_ESCAPES.items():
        text = text.replace(raw, escaped)
    return Markup(text)  # noqa: S704 - every character that could end the element is escaped


def script_hash(source: str) -> str:
    """CSP hash source of an inline script, so only our own scripts may run."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
