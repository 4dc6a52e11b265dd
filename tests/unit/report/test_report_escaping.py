"""Text from specs, records and verdicts reaches the PR comment as text: no markup, mentions or mermaid syntax."""

from __future__ import annotations

import re

from mlops.core.policy import Subject, Verdict, judge
from mlops.core.spec.model import Gate
from mlops.report.charts import curves
from mlops.report.collect import EnvRow, ModelReport, ReportData
from mlops.report.escape import cell, code, mermaid, text
from mlops.report.markdown import render
from tests.helpers.scored import record_body

EVIL = '</details><img src=x onerror=alert(1)> @acme/security #1 [click](javascript:alert(1)) `x` | *b* \n"]; %%'


def _report() -> str:
    from mlops.core.spec.record import VersionRecord
    from mlops.train.record import finalize

    body = record_body("digits-cnn", "20250102-aaaaaaaa", {"accuracy": 0.95, EVIL: 0.5},
                       params={"channels": EVIL, EVIL: 1}, history={"loss`]; style x": [1.0, 0.5], EVIL: [0.1, 0.2]})
    record: VersionRecord = finalize(body)[0]
    gates = judge([(Gate(name="min-accuracy", metric="accuracy", min=0.9), "model")], record.metrics, None)
    verdict = Verdict("digits-cnn", "dev", Subject(record.version, dict(record.metrics)), None, gates, EVIL, (EVIL,))
    baseline = finalize(record_body("digits-cnn", "20250101-bbbbbbbb", {"accuracy": 0.9}, params={"channels": 1}))[0]
    rows = [EnvRow("dev", None, verdict, True), EnvRow("prod", baseline, None, False)]
    data = ReportData([ModelReport("digits-cnn", record.version, record, rows, True)], "abc", "main",
                      None, [EVIL], "", "", [EVIL])
    return render(data)


def test_no_markup_or_mention_survives() -> None:
    out = _report()
    prose = re.sub(r"(`+)(?!`).+?(?<!`)\1(?!`)", "", out)  # code spans show their content literally
    tags = set(re.findall(r"(?<!\\)<(/?[a-z!]+)", prose))
    assert tags <= {"!", "details", "/details", "summary", "/summary", "b", "/b", "sub", "/sub"}, tags
    assert "@acme" not in prose and "#1 " not in prose  # a word joiner sits after @ and # (code spans ping nobody)
    assert not re.search(r"(?<!\\)\]\(javascript:", prose)  # the brackets are escaped: no link
    blocks: list[list[int]] = [[]]
    for line in out.splitlines():  # every row of a table has as many (unescaped) cell separators as its header
        if line.startswith("|"):
            blocks[-1].append(len(re.findall(r"(?<!\\)\|", line)))
        elif blocks[-1]:
            blocks.append([])
    assert all(len(set(b)) <= 1 for b in blocks), blocks


def test_mermaid_blocks_hold_only_label_text() -> None:
    blocks, _ = curves({"loss`]; style x": [1.0, 0.5], '"]; click A': [0.3, 0.2]}, 'model "]; %%{init}')
    chart = blocks[0].splitlines()
    label = r'"[^"%;\]\[{}]*"'
    assert re.fullmatch(r"    title " + label, chart[2]) and re.fullmatch(r"    y-axis " + label, chart[4])
    assert "``loss`]; style x``" in blocks[1] and "%%" not in blocks[0]


def test_the_escapers() -> None:
    assert text("<b>@alice</b> #7") == "\\<b\\>@\u2060alice\\</b\\> #\u20607"
    assert code("a`b") == "``a`b``" and code("`x") == "`` `x ``" and code("") == "`  `"
    assert cell("`a|b` and \\|") == "`a\\|b` and \\|"
    assert mermaid('ti"tle"]; %%{init}') == "ti'tle'__ ___init_"
