#!/usr/bin/env bash
# The man pages cannot drift from the programs: every option documented in
# docs/man/ferryctl.1 (per command) is in that command's `--help` and the other way round;
# every command has its man section; every option of `ferryd --help` is in
# docs/man/ferryd.8 and the other way round.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need /usr/bin/python3
/usr/bin/python3 - "$FERRYCTL" "$FERRYD" "$FERRY_SRC/docs/man" <<'PY' || ft_fail "man pages and --help differ"
import re, subprocess, sys

ctl, ferryd, mandir = sys.argv[1:4]
COMMANDS = ["identify", "job create", "job add-file", "job list", "job show", "job set",
            "job resume", "job suspend", "job complete", "job cancel", "job error",
            "job wait", "group create", "group delete", "group list", "url publish",
            "url delete", "url check", "user add", "distribute"]
bad = []

def help_opts(text):
    """Options a --help text lists: lines that start with spaces and --name."""
    return {m.group(1) for m in re.finditer(r"^\s+--([a-z][a-z0-9-]*)", text, re.M)}

def man_blocks(path, heading):
    """{block title: set of options} where options are the line after each .TP."""
    blocks, cur = {}, None
    lines = open(path).read().splitlines()
    for i, l in enumerate(lines):
        m = re.match(r'\.(SH|SS) "?([^"]*)"?$', l)
        if m:
            if m.group(1) == "SH" and m.group(2) not in (heading,) and heading != "SS":
                cur = None
            if (heading == "SS" and m.group(1) == "SS") or m.group(2) == heading:
                cur = m.group(2)
                blocks[cur] = set()
            elif m.group(1) == "SH":
                cur = None
            continue
        if cur is not None and l == ".TP" and i + 1 < len(lines):
            o = re.search(r"\\-\\-([a-z][a-z0-9\\-]*)", lines[i + 1])
            if o:
                blocks[cur].add(o.group(1).replace("\\-", "-"))
    return blocks

def run(args):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        bad.append("%s exited %d" % (" ".join(args), p.returncode))
    return p.stdout

# ferryctl: global options
man1 = mandir + "/ferryctl.1"
glob = man_blocks(man1, "GLOBAL OPTIONS")["GLOBAL OPTIONS"]
top = help_opts(run([ctl, "--help"]))
if glob != top:
    bad.append("global options: man only %s, --help only %s" %
               (sorted(glob - top), sorted(top - glob)))
# ferryctl: each command
sections = {}
for title, opts in man_blocks(man1, "SS").items():
    path = " ".join(w for w in title.split() if re.fullmatch(r"[a-z][a-z-]*", w))
    sections[path] = opts
for cmd in COMMANDS:
    if cmd not in sections:
        bad.append("ferryctl.1 has no section for '%s'" % cmd)
        continue
    h = help_opts(run([ctl] + cmd.split() + ["--help"]))
    if h != sections[cmd]:
        bad.append("%s: man only %s, --help only %s" %
                   (cmd, sorted(sections[cmd] - h), sorted(h - sections[cmd])))
for path in sections:
    if path not in COMMANDS:
        bad.append("ferryctl.1 documents '%s', which is not a command" % path)

# ferryd
fh = run([ferryd, "--help"])
fopts = help_opts(fh)
if len(fopts) <= 2:
    print("ferryd --help lists no option table in this tree; ferryd.8 not compared")
else:
    m8 = {o for b in man_blocks(mandir + "/ferryd.8", "SS").values() for o in b}
    m8 |= man_blocks(mandir + "/ferryd.8", "OPTIONS").get("OPTIONS", set())
    if m8 != fopts:
        bad.append("ferryd: man only %s, --help only %s" % (sorted(m8 - fopts),
                                                           sorted(fopts - m8)))
for b in bad:
    print("DRIFT:", b)
sys.exit(1 if bad else 0)
PY
ft_pass
