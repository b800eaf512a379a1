"""The install: what the page reader imports is declared, so any pip brings it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGE = (
    "<html><head><title>وزارة الصحة تفتتح مستشفى</title></head><body><nav>الرئيسية | أخبار</nav><article>"
    "<h1>وزارة الصحة تفتتح مستشفى</h1><p>أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في مدينة البصرة بسعة "
    "ثلاثمائة سرير لخدمة سكان المحافظة والمناطق المجاورة لها.</p><p>وقال الوزير خلال حفل الافتتاح إن المستشفى "
    "سيضم أقساما متخصصة لأمراض القلب والأطفال والطوارئ.</p></article><footer>جميع الحقوق محفوظة</footer>"
    "</body></html>"
)
READ_PAGE = f"from corpus.html import page_text; print(page_text({PAGE!r}).text)"
PAGE_PACKAGES = {"trafilatura", "lxml-html-clean", "numpy"}
"""The distributions `corpus.html` and the records it fills (`corpus.article`) need."""


def test_the_installed_environment_reads_a_page_with_the_extractor_it_declares() -> None:
    import lxml_html_clean  # noqa: F401 - what jusText imports as lxml.html.clean

    done = subprocess.run([sys.executable, "-c", READ_PAGE], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "سيضم أقساما متخصصة" in done.stdout and "الرئيسية" not in done.stdout


def _declared(names: set[str]) -> list[str]:
    """The project's own requirement specifiers for the distributions `names`."""
    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    requirements += ["numpy"]  # through sentence-transformers too; named for the record types
    chosen = []
    for requirement in requirements:
        name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        if name in names and requirement not in chosen:
            chosen.append(requirement)
    return chosen


def test_a_fresh_venv_with_pythons_bundled_pip_installs_what_reads_a_page(tmp_path: Path) -> None:
    """`pip install -e .` as an older pip resolves it: the page reader's requirements as this project declares
    them (the model's packages, gigabytes, are left out), from the package index."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    version = subprocess.run([*pip, "--version"], capture_output=True, text=True, check=True).stdout
    wanted = _declared(PAGE_PACKAGES)
    assert any(w.startswith("trafilatura") for w in wanted)
    installed = subprocess.run([*pip, "install", "--quiet", *wanted], capture_output=True, text=True, timeout=600)
    if (
        installed.returncode != 0
        and "No matching distribution" not in installed.stderr
        and "resolve" in installed.stderr
    ):
        pytest.skip(f"the package index cannot be reached: {installed.stderr[-300:]}")
    assert installed.returncode == 0, installed.stderr[-3000:]
    own = subprocess.run([*pip, "install", "--quiet", "--no-deps", "-e", str(ROOT)], capture_output=True, text=True)
    assert own.returncode == 0, own.stderr[-3000:]
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", READ_PAGE], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, f"{version}: {done.stderr[-3000:]}"
    assert "سيضم أقساما متخصصة" in done.stdout
