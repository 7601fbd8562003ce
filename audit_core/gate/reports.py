"""The gate's verdict for CI systems: JUnit XML (one test case per rule) and a markdown summary."""

import xml.etree.ElementTree as ET

from audit_core.gate.check import GateVerdict, RuleResult

SUITE = "dynaudit-gate"


def _describe(rule: RuleResult) -> str:
    m = rule.measurement
    relation = "<=" if rule.passed else ">"
    return (
        f"{rule.rule}: {m.decided:.4f} {relation} {rule.limit:g} ({m.basis}; point estimate "
        f"{m.point:.4f}; {m.where})"
    )


def junit_xml(verdict: GateVerdict, run_name: str) -> str:
    """JUnit XML with one ``testcase`` per rule; a broken rule carries a ``failure`` element."""
    failures = sum(not r.passed for r in verdict.rules)
    suites = ET.Element("testsuites", name=SUITE, tests=str(len(verdict.rules)), failures=str(failures))
    suite = ET.SubElement(
        suites, "testsuite", name=f"{SUITE}.{run_name}", tests=str(len(verdict.rules)), failures=str(failures)
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="decide_on", value=verdict.decide_on)
    for rule in verdict.rules:
        case = ET.SubElement(suite, "testcase", classname=f"{SUITE}.{run_name}", name=rule.rule)
        if rule.passed:
            ET.SubElement(case, "system-out").text = _describe(rule)
        else:
            ET.SubElement(case, "failure", message=_describe(rule), type="PolicyBreach").text = _describe(
                rule
            )
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def markdown_summary(verdict: GateVerdict, run_name: str) -> str:
    """A markdown summary: the verdict, a table of rules, and the regressions against a previous run."""
    lines = [
        f"## dynaudit gate `{run_name}`: {'PASSED' if verdict.passed else 'FAILED'}",
        "",
        verdict.headline,
        "",
        "| rule | limit | decided value | basis | point estimate | where | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in verdict.rules:
        m = r.measurement
        result = "pass" if r.passed else "**FAIL**"
        lines.append(
            f"| {r.rule} | {r.limit:g} | {m.decided:.4f} | {m.basis} | {m.point:.4f} | {m.where} | {result} |"
        )
    if verdict.compared:
        lines += ["", "### Against the previous run", ""]
        if not verdict.regressions:
            lines.append("The previous run has none of the limited metrics under this policy.")
        else:
            lines += ["| rule | previous | now | change |", "|---|---|---|---|"]
        for g in verdict.regressions:
            flag = " (regression)" if g.delta > 0 else ""
            lines.append(f"| {g.rule} | {g.previous:.4f} | {g.current:.4f} | {g.delta:+.4f}{flag} |")
    return "\n".join(lines) + "\n"
