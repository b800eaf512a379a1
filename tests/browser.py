"""Rendering pages in headless Chromium and reading back what the page computed."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_PROBE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>probe</title></head><body>
<iframe id="page" src="{url}" style="width:1200px;height:2400px"></iframe><pre id="probe-result">pending</pre>
<script>
document.getElementById('page').addEventListener('load', () => {{
  const doc = document.getElementById('page').contentDocument;
  const win = doc.defaultView;
  const result = (function () {{ {body} }})();
  document.getElementById('probe-result').textContent = JSON.stringify(result);
}});
</script></body></html>"""


def dump_dom(chromium: str, url: str, *extra: str, budget_ms: int = 5000) -> str:
    """The DOM of `url` after the page ran for `budget_ms` of virtual time."""
    with tempfile.TemporaryDirectory() as profile:
        completed = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                *extra,
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"chromium exited {completed.returncode}: {completed.stderr[-2000:]}")
    return completed.stdout


def probe(chromium: str, page: Path, body: str) -> Any:
    """Load `page` in an iframe and return what the JavaScript `body` returns about it.

    `body` sees `doc` (the page's document) and `win` (its window); the page itself runs
    under its own content policy, untouched.
    """
    with tempfile.TemporaryDirectory() as folder:
        wrapper = Path(folder) / "probe.html"
        # "</" inside the inline script would end it early
        script = body.replace("</", "<\\/")
        wrapper.write_text(_PROBE.format(url=page.resolve().as_uri(), body=script), encoding="utf-8")
        dom = dump_dom(chromium, wrapper.as_uri(), "--allow-file-access-from-files")
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', dom, re.S)
    if not match or match.group(1) == "pending":
        raise RuntimeError(f"the probe did not run; DOM was: {dom[:2000]}")
    import html

    return json.loads(html.unescape(match.group(1)))
