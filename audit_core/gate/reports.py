"""The gate's verdict for CI systems: JUnit XML (one test case per rule) and a markdown summary."""

import xml.etree.ElementTree as ET

from audit_core.gate.check import GateVerdict, RuleResult

SUITE = "dynaudit-gate"
LISTED = 10  # values new or gone since the previous run named in the summary; the manifest has them all


def _describe(rule: RuleResult) -> str:
    m = rule.measurement
    return (
        f"{rule.reason} Point estimate {m.point:.4f}, simultaneous bounds {m.low:.4f} to {m.high:.4f}, over "
        f"{rule.values} values."
    )


def junit_xml(verdict: GateVerdict, run_name: str) -> str:
    """JUnit XML with one ``testcase`` per rule: a failed rule (or an unresolved one the policy fails)
    carries a ``failure``, an unresolved rule passed with a warning (``unresolved: warn``) a ``skipped``
    element saying why; a rule shown to hold, or counted as passed (``unresolved: pass``), its reason."""
    failures = sum(not r.passed for r in verdict.rules)
    warned = {r.rule for r in verdict.warned}
    skipped = len(warned)
    counts = {"tests": str(len(verdict.rules)), "failures": str(failures), "skipped": str(skipped)}
    suites = ET.Element("testsuites", name=SUITE, **counts)
    suite = ET.SubElement(suites, "testsuite", name=f"{SUITE}.{run_name}", **counts)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="conditions", value=", ".join(verdict.conditions))
    ET.SubElement(properties, "property", name="basis", value=verdict.basis)
    for rule in verdict.rules:
        case = ET.SubElement(suite, "testcase", classname=f"{SUITE}.{run_name}", name=rule.rule)
        text = _describe(rule)
        if not rule.passed:
            kind = "Unresolved" if rule.outcome == "unresolved" else "PolicyBreach"
            ET.SubElement(case, "failure", message=rule.reason, type=kind).text = text
        elif rule.rule in warned:
            ET.SubElement(case, "skipped", message=rule.reason).text = text
        else:
            ET.SubElement(case, "system-out").text = text
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def markdown_summary(verdict: GateVerdict, run_name: str) -> str:
    """A markdown summary: the verdict, a table of rules, warnings, and the comparison with a previous run."""
    lines = [
        f"## dynaudit gate `{run_name}`: {verdict.status}",
        "",
        verdict.headline,
        "",
        *([verdict.recommendation, ""] if verdict.recommendation else []),
        "| rule | limit | outcome | point | simultaneous bounds | values | deciding value |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in verdict.rules:
        m = r.measurement
        outcome = r.outcome if r.passed else f"**{r.outcome.upper()}**"
        lines.append(
            f"| {r.rule} | {r.limit:g} | {outcome} | {m.point:.4f} | {m.low:.4f} to {m.high:.4f} "
            f"| {r.values} | {m.where} |"
        )
    if verdict.warnings:
        lines += ["", "### Warnings", "", *(f"- {w}" for w in verdict.warnings)]
    comparison = verdict.comparison
    if comparison is not None:
        lines += ["", "### Against the previous run", ""]
        if not comparison.regressions:
            lines.append("The previous run has none of the limited values of this run.")
        else:
            lines += ["| rule | value | previous | now | change |", "|---|---|---|---|---|"]
        for g in comparison.regressions:
            flag = " (rise)" if g.delta > 0 else ""
            lines.append(
                f"| {g.rule} | {g.where} | {g.previous:.4f} | {g.current:.4f} | {g.delta:+.4f}{flag} |"
            )
        for title, keys in (
            ("New in this run", comparison.new),
            ("Gone since the previous run", comparison.gone),
        ):
            if keys:
                more = len(keys) - LISTED
                tail = f"; and {more} more (every one in manifest.json's verdict)" if more > 0 else ""
                lines += ["", f"{title} ({len(keys)}): " + "; ".join(keys[:LISTED]) + tail + "."]
    return "\n".join(lines) + "\n"
