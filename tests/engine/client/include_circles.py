#!/usr/bin/env python3
"""Include circles among the files of one folder, at file level and at module level
(x.c + x.h = module x; fetch_*.c and fetcher-internal.h belong to the fetcher)."""
import re, sys, os, glob
folder = sys.argv[1] if len(sys.argv) > 1 else 'engine/client'
files = sorted(glob.glob(folder + '/*.[ch]'))
names = {os.path.basename(f) for f in files}
base = os.path.basename(folder)
def mod(n):
    m = os.path.splitext(n)[0]
    m = re.sub(r'-internal$', '', m)
    if m.startswith('fetch_'): m = 'fetcher'
    return m
edges = {}
for f in files:
    n = os.path.basename(f)
    for inc in re.findall(r'^#include "([^"]+)"', open(f).read(), re.M):
        i = inc.split('/')[-1]
        if (inc.startswith(base + '/') or '/' not in inc) and i in names:
            edges.setdefault(n, set()).add(i)
def cycles(g):
    out, color = [], {}
    def dfs(u, path):
        color[u] = 1; path.append(u)
        for v in sorted(g.get(u, ())):
            if color.get(v) == 1: out.append(path[path.index(v):] + [v])
            elif not color.get(v): dfs(v, path)
        path.pop(); color[u] = 2
    for u in sorted(g):
        if not color.get(u): dfs(u, [])
    return out
mg = {}
for a, bs in edges.items():
    for b in bs:
        if mod(a) != mod(b): mg.setdefault(mod(a), set()).add(mod(b))
bad = cycles(edges) + cycles(mg)
for c in bad: print('circle:', ' -> '.join(c))
for a in sorted(mg): print(a, '->', ', '.join(sorted(mg[a])))
sys.exit(1 if bad else 0)
