"""A report's pages checked as people see them: each page rendered to pixels by poppler's ``pdftoppm``, and
every line of text laid out by WeasyPrint checked against the box that holds it."""

import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from weasyprint import HTML
from weasyprint.formatting_structure import boxes

DPI = 30  # a text line is a few pixel rows: enough to see where a page holds something
INK = 200  # a gray level below this is ink (0 black, 255 white)
TOLERANCE_PX = 0.5  # layout rounding
MOST_BLANK = 0.85  # of a page's printable height may stay empty, except on the last page


def page_images(pdf: Path) -> list[np.ndarray]:
    """Every page of ``pdf`` as a grayscale array, rendered by ``pdftoppm``."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", str(pdf), f"{folder}/page"], check=True)
        return [np.asarray(Image.open(p).convert("L")) for p in sorted(Path(folder).glob("page*.png"))]


def blank_fraction(page: np.ndarray, margins_mm: tuple[float, float] = (16, 18)) -> float:
    """The share of the page's printable height (without its top and bottom margins, where the page number
    sits) that lies below the last pixel row holding ink: how much of the page is left empty."""
    pixels_per_mm = DPI / 25.4
    top, bottom = (round(m * pixels_per_mm) for m in margins_mm)
    body = page[top : page.shape[0] - bottom]
    inked = np.flatnonzero((body < INK).any(axis=1))
    return 1.0 if inked.size == 0 else 1.0 - (inked[-1] + 1) / body.shape[0]


def _overflows(box: boxes.Box, right: float) -> list[str]:
    """The text of ``box`` and its descendants reaching past ``right``, or past their own block's edge."""
    if isinstance(box, boxes.BlockContainerBox):  # blocks and table cells bound the text inside them
        right = min(right, box.content_box_x() + box.width)
    if isinstance(box, boxes.TextBox):
        return [box.text] if box.position_x + box.width > right + TOLERANCE_PX else []
    children = box.all_children() if isinstance(box, boxes.ParentBox) else []
    return [text for child in children for text in _overflows(child, right)]


def overflowing_text(html: str, base_url: str) -> list[str]:
    """Each piece of text that WeasyPrint lays out beyond the right edge of the block or table cell holding
    it, or beyond the page's content area, as ``page N: 'text'``."""
    document = HTML(string=html, base_url=base_url).render()
    return [
        f"page {number}: {text!r}"
        for number, page in enumerate(document.pages, start=1)
        for text in _overflows(page._page_box, page._page_box.content_box_x() + page._page_box.width)
    ]
