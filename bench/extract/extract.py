"""Extraction benchmark driver (see run.sh for what and why). Standard library only.

Usage: extract.py BIN WORK_DIR
Environment: ROUNDS (3)
Exit code: 0 every hostile file under 1 s, 2 one was not, 1 the benchmark itself failed.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import time
import zipfile

BIN, WORK = sys.argv[1:3]
ROUNDS = int(os.environ.get("ROUNDS", "3"))
SIZE = 2 * 1024 * 1024
LIMIT_S = 1.0
HTML = "text/html"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
PROSE = ("The quarterly report summarises revenue, costs and the outlook for the next "
         "period; invoices were paid on time and the audit found nothing unusual. ")


def fill(head: str, unit: str, tail: str) -> str:
    """`unit` repeated so that the whole is about SIZE bytes."""
    return head + unit * ((SIZE - len(head) - len(tail)) // len(unit)) + tail


def stored_zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


DOCX_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
              'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="'
              'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
              '</Types>')


def docx(body: str) -> bytes:
    doc = ('<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
           'openxmlformats.org/wordprocessingml/2006/main"><w:body>' + body + '</w:body></w:document>')
    return stored_zip([("[Content_Types].xml", DOCX_TYPES.encode()), ("word/document.xml", doc.encode())])


def odt(text: str) -> bytes:
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:'
               'names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:'
               'xmlns:text:1.0"><office:body><office:text>' + text + '</office:text></office:body>'
               '</office:document-content>')
    return stored_zip([("mimetype", ODT.encode()), ("content.xml", content.encode())])


def many_entries_docx() -> bytes:
    entries = [("[Content_Types].xml", DOCX_TYPES.encode()),
               ("word/document.xml", b'<w:document xmlns:w="w"><w:body/></w:document>')]
    entries += [(f"e/{i}", b"x" * 120) for i in range(9_000)]
    return stored_zip(entries)


def corpus() -> list[tuple[str, str, str, bytes]]:
    """(format, name, content type, bytes); the first of each format is the baseline."""
    return [
        ("HTML", "benign prose", HTML, fill("<html><body>", f"<p>{PROSE}</p>\n", "</body></html>").encode()),
        ("HTML", "unterminated tags <a<a<a", HTML, fill("", "<a", "").encode()),
        ("HTML", "unterminated <div  <div ", HTML, fill("", "<div ", "").encode()),
        ("HTML", "unterminated attribute of tags", HTML, fill('<p>x</p><a title="', "<b>y", "").encode()),
        ("HTML", "nested <div><span>", HTML, fill("", "<div><span>", "deep").encode()),
        ("HTML", "one 2 MB attribute", HTML, fill('<a href="', "x", '">link</a>').encode()),
        ("HTML", "blocks and spaces", HTML, fill("", "</p>  <br> ", "end").encode()),
        ("DOCX", "benign paragraphs", DOCX, docx(fill("", f"<w:p><w:r><w:t>{PROSE}</w:t></w:r></w:p>", ""))),
        ("DOCX", "one-letter runs", DOCX, docx(fill("<w:p>", "<w:r><w:t>a</w:t></w:r>", "</w:p>"))),
        ("DOCX", "unterminated <w:t", DOCX, docx(fill("<w:p>", "<w:t", "</w:p>"))),
        ("DOCX", "one 2 MB attribute", DOCX, docx(fill('<w:p w:x="', "y", '"><w:r><w:t>a</w:t></w:r></w:p>'))),
        ("DOCX", "nesting <w:p><w:p>…", DOCX, docx(fill("", "<w:p>", ""))),
        ("DOCX", "9 000 zip entries", DOCX, many_entries_docx()),
        ("ODT", "benign paragraphs", ODT, odt(fill("", f"<text:p>{PROSE}</text:p>", ""))),
        ("ODT", "one-letter spans", ODT, odt(fill("<text:p>", "<text:span>a</text:span><text:s/>", "</text:p>"))),
        ("ODT", "180 000 attributes", ODT,
         odt("<text:p>a<text:s " + "".join(f'a{i}="" ' for i in range(180_000)) + 'text:c="3"/>b</text:p>')),
        ("ODT", "unterminated <text:span", ODT, odt(fill("<text:p>", "<text:span", ""))),
    ]


def extract_once(content_type: str, data: bytes) -> tuple[float, str]:
    header = json.dumps({"content_type": content_type, "max_chars": 1_000_000, "len": len(data)})
    started = time.perf_counter()
    proc = subprocess.run([BIN, "extract-worker"], input=header.encode() + b"\n" + data,
                          capture_output=True, timeout=120, env={})
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"extract-worker exited {proc.returncode}: {proc.stderr[-400:]!r}")
    result = json.loads(proc.stdout)
    if "Ok" in result:
        outcome = f"{len(result['Ok']['text'])} chars"
    else:
        err = result["Err"]
        outcome = "failed: " + (json.dumps(err) if not isinstance(err, dict) else json.dumps(list(err.values())[0]))
    return elapsed, outcome[:70]


def main() -> int:
    files = corpus()
    times: dict[int, list[float]] = {i: [] for i in range(len(files))}
    outcomes: dict[int, str] = {}
    for _ in range(ROUNDS):
        for i, (_, _, ct, data) in enumerate(files):
            t, outcome = extract_once(ct, data)
            times[i].append(t)
            outcomes[i] = outcome
    lines = [
        "Extraction benchmark (bench/extract): 2 MiB files through `docuvault extract-worker`",
        f"binary:  {os.environ.get('BENCH_BIN_DESC', BIN)}",
        f"commit:  {os.environ.get('BENCH_COMMIT', '?')}",
        f"load:    {os.environ.get('BENCH_LOAD', '?')} (1/5/15 min) on {os.cpu_count()} CPUs; "
        f"median of {ROUNDS} rounds; target: every hostile file < {LIMIT_S:.0f} s",
        "",
        f"{'format':6} {'file':34} {'bytes':>9} {'median s':>9} {'ratio':>7}  outcome",
    ]
    baseline: dict[str, float] = {}
    failed = []
    for i, (fmt, name, _, data) in enumerate(files):
        median = statistics.median(times[i])
        if fmt not in baseline:
            baseline[fmt] = median
            ratio = "base"
        else:
            ratio = f"{median / baseline[fmt]:.2f}x"
            if median >= LIMIT_S:
                failed.append(f"{fmt} {name}")
        lines.append(f"{fmt:6} {name:34} {len(data):>9} {median:>9.3f} {ratio:>7}  {outcomes[i]}")
    lines.append("")
    worst = max(statistics.median(times[i]) for i, f in enumerate(files) if baseline.get(f[0]) is not None)
    lines.append(f"slowest file: {worst:.3f} s")
    lines.append("RESULT: " + ("PASS, every hostile file under 1 s" if not failed
                               else "FAIL: " + ", ".join(failed)))
    report = "\n".join(lines)
    print(report)
    out = os.environ.get("BENCH_OUT")
    if out:
        with open(out, "w") as f:
            f.write(report + "\n")
    return 2 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - the benchmark itself failed
        print(f"extract bench: {e}", file=sys.stderr)
        sys.exit(1)
