"""The executed notebooks as a static HTML site: ``python -m rewritelib.report --out report``.

Each stored notebook ``notebooks/NN_*.ipynb`` becomes one page, as it was last executed
(nothing is run again, so the site takes seconds), and ``index.html`` links them with each
chapter's title and first sentence. Figures are data URIs and no page loads a script from
the internet, so the folder can be opened, copied or mailed as it is. A bad input is one
line on stderr and exit status 2; the site is written aside and renamed into place, so a
failed build leaves the previous site as it was.
"""

from __future__ import annotations

import html
import importlib.metadata
import re
import shutil
import sys
import tempfile
from pathlib import Path

GENERATOR = '<meta name="generator" content="rewritelib.report">'

# The lab template, less what a static page cannot use: RequireJS, MathJax and Mermaid come
# from a CDN (no markdown here uses math or diagrams) and the widget manager comes from
# unpkg. A link back to the index goes above every page.
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% block html_head_js %}{% endblock %}
{% block html_head_js_mathjax %}{% endblock %}
{% block html_head_js_mermaidjs %}{% endblock %}
{% block jupyter_widgets %}{% endblock %}
{% block body_header %}{{ super() }}
<nav style="padding: 8px 0 0 var(--jp-cell-padding, 4px); font-family: var(--jp-ui-font-family)"><a href="index.html">&larr; All chapters</a></nav>
{% endblock %}
"""


class ReportError(Exception):
    """Bad input: main() makes it one line on stderr and exit status 2."""


def first_sentence(paragraph: str) -> str:
    """Up to the first full stop that ends a sentence (one followed by a capital or a quote).

    >>> first_sentence("E3: rules follow a power law, e.g. a skew. The paper: robust.")
    'E3: rules follow a power law, e.g. a skew.'
    """
    return re.split(r"(?<=[.!?])\s+(?=[A-Z*`(\"])", paragraph, maxsplit=1)[0]


def chapter(nb, fallback: str) -> tuple[str, str]:
    """The title (first ``# `` heading of the first markdown cell) and the first sentence of
    the paragraph after it; the file's name when a notebook has no such heading."""
    md = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    head = re.search(r"^# +(.+)$", md, re.MULTILINE)
    if not head:
        return fallback, ""
    paragraph = md[head.end():].strip().split("\n\n")[0]
    return head.group(1).strip(), first_sentence(" ".join(paragraph.split()))


def notebooks_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ReportError(f"no notebooks folder {folder}")
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise ReportError(f"no notebook NN_*.ipynb in {folder}")
    return found


def read(path: Path):
    """The stored notebook, made static: the progress bars are widgets, which a page without
    a widget manager cannot draw (their text fallback says 0%), so they are left out."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # half-written JSON, another format: say which file
        raise ReportError(f"{path}: not a notebook ({type(e).__name__}: {e})") from None
    if not any(c.get("execution_count") for c in nb.cells if c.cell_type == "code"):
        raise ReportError(f"{path}: never executed (run it first, e.g. in make lab)")
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if "application/vnd.jupyter.widget-view+json" not in o.get("data", {})]
    return nb


def exporter():
    """nbconvert's HTMLExporter on the lab template: code shown, prompts hidden (the
    execution counts say nothing to a reader), output images as data URIs by default."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", template_file="report.html.j2",
                        extra_loaders=[DictLoader({"report.html.j2": TEMPLATE})],
                        exclude_input_prompt=True, exclude_output_prompt=True)


def index_page(title: str, chapters: list[tuple[str, str, str]]) -> str:
    from nbconvert.filters import markdown2html

    def line(md):  # the sentence keeps its `code` and **bold**, without the <p> around it
        return re.sub(r"^<p>|</p>\s*$", "", markdown2html(md).strip())

    items = "\n".join(f'<li><a href="{page}">{html.escape(name)}</a><br>{line(first)}</li>'
                      for page, name, first in chapters)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{GENERATOR}
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)}</title>
<style>body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 50em; margin: 2em auto; padding: 0 1em }}
li {{ margin-bottom: 1em }} code {{ background: #f3f3f3; padding: 0 .2em }}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>The study's notebooks as they were last executed.</p>
<ol>
{items}
</ol>
</body></html>
"""


def study_title() -> str:
    try:
        return importlib.metadata.metadata("rewritelib")["Summary"]
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "rewritelib"


def ours(out: Path) -> bool:
    """Only an empty folder or a site this module wrote is replaced: a slip in --out (say
    --out notebooks) must not delete someone's work."""
    if not out.exists():
        return True
    index = out / "index.html"
    return out.is_dir() and (not any(out.iterdir()) or
                             index.is_file() and GENERATOR in index.read_text(errors="replace"))


def build(out="report", notebooks="notebooks") -> Path:
    """Write the site to ``out`` (replacing a site built before); return its path."""
    out, paths = Path(out), notebooks_in(Path(notebooks))
    if not ours(out):
        raise ReportError(f"{out} exists and is not a site written by rewritelib.report; "
                          "remove it or pick another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))  # same disk: rename works
    try:
        ex, chapters = exporter(), []
        for path in paths:
            nb = read(path)
            name, first = chapter(nb, path.stem)
            nb.metadata["title"] = name  # the page's <title>, instead of the file name
            body, _ = ex.from_notebook_node(nb)
            (tmp / f"{path.stem}.html").write_text(body, encoding="utf-8")
            chapters.append((f"{path.stem}.html", name, first))
        (tmp / "index.html").write_text(index_page(study_title(), chapters), encoding="utf-8")
        tmp.chmod(0o755)  # mkdtemp makes it private; a site is for reading
        old = out.with_name(tmp.name + "-old")
        if out.exists():
            out.rename(old)
        try:
            tmp.rename(out)
        except OSError:
            if old.exists():
                old.rename(out)  # the previous site back where it was
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when the build succeeded
    return out


def main(argv=None) -> int:
    from .cli import OneLineParser

    parser = OneLineParser(prog="python -m rewritelib.report",
                          description="The executed notebooks as a static HTML site, one page each.")
    parser.add_argument("--out", default="report", help="the site's folder (default: report)")
    parser.add_argument("--notebooks", default="notebooks", help="where NN_*.ipynb are (default: notebooks)")
    args = parser.parse_args(argv)
    try:
        out = build(args.out, args.notebooks)
    except ReportError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a folder it may not write to
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}/index.html and {len(list(out.glob('*.html'))) - 1} chapters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
