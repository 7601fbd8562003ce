"""Renders the report context to one self-contained HTML file and, from the same source, a PDF."""

import logging
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE_PACKAGE, TEMPLATE_FOLDER = "audit_core.report", "templates"  # shipped inside the package (wheel)


def template_text(name: str) -> str:
    """A file of the report's templates folder (CSS, JS), read through importlib.resources."""
    return (files(TEMPLATE_PACKAGE) / TEMPLATE_FOLDER / name).read_text(encoding="utf-8")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, TEMPLATE_FOLDER),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )


def render_html(context: dict[str, Any], *, for_pdf: bool = False) -> str:
    """The report as one HTML string with its stylesheet inlined."""
    css = template_text("report.css")
    return _environment().get_template("report.html.j2").render(**context, css=css, for_pdf=for_pdf)


def _quiet_weasyprint() -> None:
    """WeasyPrint logs a warning per embedded font about an optional subsetting backend; keep errors only."""
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)


def write_html(context: dict[str, Any], folder: Path) -> Path:
    """Write ``report.html`` into ``folder``."""
    path = folder / "report.html"
    path.write_text(render_html(context), encoding="utf-8")
    return path


def write_pdf(context: dict[str, Any], folder: Path) -> Path:
    """Write ``report.pdf`` (WeasyPrint, from the same template) into ``folder``."""
    from weasyprint import HTML  # imported here: loading it costs about a second

    _quiet_weasyprint()
    path = folder / "report.pdf"
    HTML(string=render_html(context, for_pdf=True), base_url=str(folder)).write_pdf(path)
    return path
