"""make report: the stored notebooks as a static site (rewritelib/report.py), without a browser.

tests/browser/test_report_site.py opens the same site in Chromium and follows its links.
"""

import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rewritelib.report import GENERATOR, ReportError, build, chapter

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def report(*args, cwd):
    return subprocess.run([sys.executable, "-m", "rewritelib.report", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build(tmp_path_factory.mktemp("report") / "site", NOTEBOOKS)


def test_index_links_every_notebook_with_its_title(site):
    index = (site / "index.html").read_text()
    notebooks = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert notebooks
    links = re.findall(r'<li><a href="([^"]+)">([^<]+)</a><br>(.+)</li>', index)
    assert [href for href, _, _ in links] == [f"{nb.stem}.html" for nb in notebooks]
    for (_, title, first), nb in zip(links, notebooks):
        expected, sentence = chapter(nbformat.read(nb, as_version=4), nb.stem)
        assert title == html.escape(expected) and title.startswith(nb.stem[:2])
        assert sentence and first.strip().endswith(".")


def test_pages_are_self_contained_with_their_figures(site):
    for nb in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        page = (site / f"{nb.stem}.html").read_text()
        for path in ("/work/", "/tmp/", str(ROOT), str(Path.home()) + "/"):
            assert path not in page, f"{nb.name}: the build machine's path {path}"
        assert not re.search(r'<script[^>]+src="https?:', page), f"{nb.name}: a script from the internet"
        assert 'href="index.html"' in page
        pngs = sum("image/png" in o.get("data", {}) for c in nbformat.read(nb, as_version=4).cells
                   for o in c.get("outputs", []))
        assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == pngs > 0, nb.name


def test_missing_or_empty_notebooks_folder_is_one_line_and_exit_2(tmp_path):
    for folder in (tmp_path / "missing", tmp_path):  # tmp_path itself holds no notebook
        r = report("--out", tmp_path / "site", "--notebooks", folder, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert len(r.stderr.splitlines()) == 1 and "error" in r.stderr, r.stderr
        assert not (tmp_path / "site").exists()


def test_a_failed_build_leaves_the_previous_site(tmp_path, site):
    out = tmp_path / "site"
    folder = tmp_path / "nbs"
    folder.mkdir()
    first = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))[0]
    (folder / first.name).write_bytes(first.read_bytes())
    build(out, folder)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (folder / "99_broken.ipynb").write_text('{"cells": [')  # half-written, as during a save
    r = report("--out", out, "--notebooks", folder, cwd=tmp_path)
    assert r.returncode == 2 and "99_broken.ipynb" in r.stderr and len(r.stderr.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nbs", "site"]  # no temporary folder left


def test_rebuild_replaces_the_site_but_not_other_folders(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    first = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))[0]
    (folder / first.name).write_bytes(first.read_bytes())
    out = build(tmp_path / "site", folder)
    (out / "stale.html").write_text("from an older build")
    assert GENERATOR in (build(out, folder) / "index.html").read_text()
    assert not (out / "stale.html").exists()
    with pytest.raises(ReportError, match="not a site"):
        build(folder, folder)  # a slip in --out: the notebooks stay
    assert (folder / first.name).exists()


def test_a_notebook_never_executed_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 · X\n\nA line."),
                                         nbformat.v4.new_code_cell("1 + 1")])
    nbformat.write(nb, tmp_path / "01_x.ipynb")
    with pytest.raises(ReportError, match="never executed"):
        build(tmp_path / "site", tmp_path)
