#!/usr/bin/env bash
# tests/integration/grafana_metrics.sh - contrib/grafana/ferry.json asks only for what
# ferryd exports: a real ferryd (both roles, metrics = true) publishes a file that curl
# fetches, /metrics is scraped, and every metric name in the dashboard's PromQL (panel
# targets and template queries) must be among the exported ones (# TYPE lines and samples;
# a histogram or summary also exports NAME_bucket / NAME_sum / NAME_count). The checker is
# first shown to refuse a copy of the dashboard with one unknown name, and its PromQL name
# extraction is checked on fixed expressions.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need /usr/bin/python3 curl
cd "$FT_TMP"
dash=$FERRY_SRC/contrib/grafana/ferry.json
[ -f "$dash" ] || ft_fail "no $dash"

mkdir -p "$FT_TMP/pub" "$FT_TMP/in"
ft_ferryd_start m --metrics --publish-root "$FT_TMP/pub" --download-root "$FT_TMP/in"
printf 'admin-pw\n' >pw
A=("$FERRYCTL" --endpoint "$FT_WSMAN_m" --user admin --password-file "$FT_TMP/pw")
head -c 100000 /dev/urandom >"$FT_TMP/pub/f.bin"
group=http://127.0.0.1:$(ft_free_port)/g
"${A[@]}" group create "$group" || ft_fail "group create"
url=$("${A[@]}" url publish "$group" f.bin "$FT_TMP/pub/f.bin") || ft_fail "url publish"
curl -sf -o got.bin "$url" || ft_fail "GET $url"
cmp -s got.bin "$FT_TMP/pub/f.bin" || ft_fail "served bytes differ"
"${A[@]}" job create j "$url" "$FT_TMP/in/f.bin" --suspended >/dev/null || ft_fail "job create"
curl -sf -u admin:admin-pw -o metrics.txt "${FT_WSMAN_m%/wsman}/metrics" || ft_fail "GET /metrics"
ft_ferryd_stop m
grep -q '^ferry_group_bytes_served_total{group=' metrics.txt || ft_fail "no per-group sample: $(cat metrics.txt)"

cat > check.py <<'PY'
import json, re, sys

KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "Inf", "NaN"}

def metric_names(expr):
    """Metric names in a PromQL expression (Grafana variables allowed)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)        # string literals
    s = re.sub(r"\{[^}]*\}", "", s)                      # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)                     # range selectors
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", s)
    s = re.sub(r"\$\{?\w+\}?", "", s)                    # $__rate_interval, ${var}
    out = set()
    for m in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", s):
        if s[m.end():].lstrip().startswith("(") or m.group(0) in KEYWORDS:
            continue                                     # a function or a keyword
        out.add(m.group(0))
    return out

assert metric_names('sum by (state) (rate(a_total{x="y",z=~"$v"}[$__rate_interval])) '
                    '/ clamp_min(b, 1) and on (i) c_bucket offset 5m') == \
    {"a_total", "b", "c_bucket"}, "extractor"
assert metric_names('topk(10, sum without (g) (increase(d[$__range]))) > bool 2e3') == {"d"}

def exported(path):
    names, types = set(), {}
    for line in open(path):
        m = re.match(r"# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) (\w+)", line)
        if m:
            types[m.group(1)] = m.group(2)
            names.add(m.group(1))
        elif line.strip() and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    for n, t in types.items():
        if t in ("histogram", "summary"):
            names.update({n + "_sum", n + "_count"} | ({n + "_bucket"} if t == "histogram" else set()))
    return names

def exprs(dash):
    """(where, PromQL) of every panel target (rows included) and template query."""
    def walk(panels):
        for p in panels:
            yield from walk(p.get("panels", []))
            for t in p.get("targets", []):
                yield "panel %r" % p.get("title"), t["expr"]
    yield from walk(dash["panels"])
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q) or \
            re.fullmatch(r"\s*query_result\((.*)\)\s*", q)
        assert m, "template %r: query %r not understood" % (v["name"], q)
        yield "variable %r" % v["name"], m.group(1)

dash = json.load(open(sys.argv[1]))
have = exported(sys.argv[2])
ids = [p["id"] for p in dash["panels"]]
assert len(ids) == len(set(ids)), "panel ids repeat: %s" % ids
for p in dash["panels"]:
    if p["type"] != "row":
        assert p.get("targets") and p["datasource"]["uid"] == "${datasource}", p["title"]
used, bad = set(), []
for where, e in exprs(dash):
    names = metric_names(e)
    assert names, "%s: no metric in %r" % (where, e)
    used |= names
    bad += ["%s: %s (in %r)" % (where, n, e) for n in sorted(names - have)]
if bad:
    sys.exit("not exported by ferryd:\n  " + "\n  ".join(bad))
unused = sorted(n for n in have if n.startswith("ferry_") and n not in used)
print("%d metric names used, all exported%s" % (len(used),
      "; exported but not on the dashboard: " + ", ".join(unused) if unused else ""))
PY

# the checker refuses an unknown name
/usr/bin/python3 - "$dash" bogus.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["panels"][-1]["targets"][0]["expr"] += " + ferry_no_such_metric_total"
json.dump(d, open(sys.argv[2], "w"))
PY
if /usr/bin/python3 check.py bogus.json metrics.txt >bogus.out 2>&1; then
    ft_fail "the checker accepted an unexported name: $(cat bogus.out)"
fi
grep -q "ferry_no_such_metric_total" bogus.out || ft_fail "checker output: $(cat bogus.out)"

/usr/bin/python3 check.py "$dash" metrics.txt || ft_fail "the dashboard uses names /metrics lacks"
ft_pass
