"""The demo report's size and rendering time: context, HTML, PDF, and what they weigh.

    .venv/bin/python benchmarks/report.py              # the demo config (models from the cache if present)
    .venv/bin/python benchmarks/report.py --repeat 3   # best of three renderings

The audit itself runs once (it is not what is measured); then the report is rendered ``--repeat`` times and
the best time of each step is printed with the HTML and PDF sizes and the PDF's page count.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
from pypdf import PdfReader

from audit_core.audit.run import run_audit
from audit_core.audit.write import policy_verdict
from audit_core.config import load_config
from audit_core.report.context import build_context
from audit_core.report.render import render_html, write_html, write_pdf

DEMO = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"


def best_seconds(step, repeat: int) -> float:
    """The fastest of ``repeat`` runs of ``step()``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEMO, help="audit config (the demo's by default)")
    parser.add_argument("--repeat", type=int, default=2, help="renderings timed; the best counts")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.config)
    run = run_audit(config)
    verdict = policy_verdict(config, run.result.metrics_table(), run.result.scores_table(), run.result)

    def context() -> dict:
        return build_context(run.result, run.defenses, run.tuning, verdict)

    rendered = context()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        rows = [
            ("report context (tables, SVG figures, explorer data)", best_seconds(context, args.repeat)),
            ("HTML (Jinja2)", best_seconds(lambda: render_html(rendered), args.repeat)),
            ("HTML written", best_seconds(lambda: write_html(rendered, folder), args.repeat)),
            ("PDF written (WeasyPrint)", best_seconds(lambda: write_pdf(rendered, folder), args.repeat)),
        ]
        html, pdf = folder / "report.html", folder / "report.pdf"
        pages = len(PdfReader(pdf).pages)
        sizes = (html.stat().st_size, pdf.stat().st_size)
    print(f"\n{len(run.result.evaluations)} conditions, {len(run.result.attacks)} attacks, 1 torch thread\n")
    print("| step | seconds |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")
    print(f"\nHTML {sizes[0] / 2**20:.2f} MiB, PDF {sizes[1] / 2**20:.2f} MiB, {pages} PDF pages")


if __name__ == "__main__":
    main()
