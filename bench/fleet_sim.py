#!/usr/bin/env python3
"""bench/fleet_sim.py - chunk-level simulation of fleet distribution (docs/FLEET.md).

One origin and N client hosts. Every host has an uplink and a downlink of B bytes/s (the
tbf of the netns harness on both directions of every link). A file of S bytes is cut in
chunks of c bytes. Each client keeps at most W chunk requests in flight (ferry's
connections-per-file). A flow's rate is min(uplink of its source / uploads of that source,
downlink of its sink / downloads of that sink), recomputed every step of dt seconds (an
approximation of TCP sharing a tbf-limited link). A chunk can be served by a host only once
it has it whole (verified).

Strategies (the rules each host follows, exactly as the controller would set them up):
  star       every client fetches every chunk from the origin.
  waves      BitTorrent-less "doubling": a host serves only once it has the whole file; host h
             (origin = 0) fetches from h - 2^floor(log2 h), so the number of copies doubles
             per wave.
  tree:k     pipelined tree with fan-out k: host h fetches from (h-1)//k; chunks are relayed
             as soon as they are verified. k = 1 is a chain.
  stripe:k   k interleaved pipelined trees (SplitStream-like): chunk i travels down tree
             i mod k; a host is interior in at most one tree, so every host uploads about one
             copy and receives from k parents at B/k each. stripe:1 is the chain again.
  relay:k    the rules of ferry's `distribute --relay --fanout k` (control/cli/ctl_dist_relay.c,
             engine/client/fetch_source.c): hosts in --to order, the first fetches from the
             origin only, host i > 0 (0-based) has host (i - 1) // k as its one peer, so the
             origin feeds one host and a k-ary pipelined tree hangs below it. The peer is
             asked for the lowest chunk it has (seen by a HEAD poll every --poll s) that
             the host misses, --peer-window (1, FETCH_PEER_WINDOW) at a time (the root,
             from the origin, --root-window at a time: 1, DIST_RELAY_ROOT_CONNECTIONS); a
             chunk it lacks is waited for, and goes to the origin only when it has made no
             progress (its chunk set grew, or bytes from it arrived) for --stall s since
             its last progress, or for --start-stall s since the start when it has not
             progressed yet, or the peer is dead (dropped after --fallback s without a
             byte). relay:1 is a chain.
  cache      one HTTP cache (nginx proxy_cache + slice, proxy_cache_lock) between the
             origin and every client: the cache fetches each chunk once (W at a time) and
             serves a chunk once it has it whole; its links run at --cache-mbit (default:
             the hosts' rate).

A fault can be injected: --kill HOST@FRACTION kills one relay when the first host reaches
that fraction of the file; its children fall back to the origin for the chunks that parent
would have given them after --fallback seconds without a byte from it.

Usage:
  bench/fleet_sim.py                        the table of docs/FLEET.md
  bench/fleet_sim.py -n 1000 -s 96M -r stripe:4 [--kill 1@0.5]
  bench/fleet_sim.py -n 8 -r star -r cache -r relay:1 -r relay:2     the measured setup
  bench/fleet_sim.py -n 1000 -r cache --cache-mbit 10000               a 10 Gbit/s cache
Python 3 standard library only.
"""
import argparse
import math
import statistics
import sys


def parse_size(text):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1].upper() in mult:
        return int(float(text[:-1]) * mult[text[-1].upper()])
    return int(text)


def parents_for(strategy, n):
    """parents[h] for clients 1..n (and the cache, n + 1): a list, stripe order; origin = 0."""
    kind, _, karg = strategy.partition(":")
    k = int(karg) if karg else 1
    par = [[] for _ in range(n + 2)]
    if kind == "star":
        for h in range(1, n + 1):
            par[h] = [0]
    elif kind == "waves":
        for h in range(1, n + 1):
            par[h] = [h - (1 << (h.bit_length() - 1))]
    elif kind == "tree":
        for h in range(1, n + 1):
            par[h] = [(h - 1) // k]
    elif kind == "relay":
        for h in range(1, n + 1):
            par[h] = [0 if h == 1 else (h - 2) // k + 1]
    elif kind == "cache":
        par[n + 1] = [0]
        for h in range(1, n + 1):
            par[h] = [n + 1]
    elif kind == "stripe":
        for t in range(k):
            # hosts whose index is t mod k first: they are the interior nodes of tree t
            order = [h for h in range(1, n + 1) if (h - 1) % k == t]
            order += [h for h in range(1, n + 1) if (h - 1) % k != t]
            for p, h in enumerate(order):
                par[h].append(0 if p == 0 else order[(p - 1) // k])
    else:
        raise SystemExit("unknown strategy %r" % strategy)
    return par, kind


def simulate(n, size, chunk, rate, strategy, window=4, relay_limit=None, kill=None,
             fallback=2.0, dt=None, peer_window=None, stall=3.0, poll=0.025, cache_rate=None,
             start_stall=30.0, root_window=1):
    nchunks = (size + chunk - 1) // chunk
    csize = [min(chunk, size - i * chunk) for i in range(nchunks)]
    par, kind = parents_for(strategy, n)
    whole_only = kind == "waves"
    relay = kind == "relay"
    if peer_window is None:
        peer_window = 1     # FETCH_PEER_WINDOW
    nodes = n + 2 if kind == "cache" else n + 1     # the cache is node n + 1
    if kind != "cache":
        par.pop()
    # waves: host h belongs to wave h.bit_length() and starts once every earlier wave is done
    wave = [h.bit_length() for h in range(n + 1)]
    wave_left = {}
    for h in range(1, n + 1):
        wave_left[wave[h]] = wave_left.get(wave[h], 0) + 1
    up_cap = [rate] + [relay_limit or rate] * n + [cache_rate or rate] * (nodes - n - 1)
    down_cap = [rate] * (n + 1) + [cache_rate or rate] * (nodes - n - 1)
    have = [bytearray(nchunks) for _ in range(nodes)]
    have[0] = bytearray(b"\x01" * nchunks)
    have_t = [[0.0] * nchunks for _ in range(nodes)]   # when each chunk was verified
    grown = [None] * nodes                              # when the chunk set last grew
    count = [nchunks] + [0] * (nodes - 1)
    nextm = [0] * nodes            # lowest chunk index that may be missing
    flows = {}                      # (dst, chunk) -> [src, remaining]
    inflight = [0] * nodes
    per_src = {}                    # (dst, src) -> requests in flight
    done_at = [0.0] + [None] * (nodes - 1)
    from_origin = [0] * nodes
    dead = set()
    last_byte = {}                  # (dst, src) -> time of the last byte from src
    killed_host, kill_frac = (kill if kill else (None, None))
    dt = dt or chunk / rate / 8
    t = 0.0
    remaining_hosts = n
    steps = 0
    while remaining_hosts:
        if killed_host is not None and killed_host not in dead:
            if max(count[1:]) >= kill_frac * nchunks:
                dead.add(killed_host)
                for key in [k for k, v in flows.items() if v[0] == killed_host or
                            k[0] == killed_host]:
                    inflight[key[0]] -= 1
                    per_src[(key[0], flows[key][0])] -= 1
                    del flows[key]
                remaining_hosts -= 1   # the killed host is not counted (it restarts later)
                if done_at[killed_host] is None:
                    wave_left[wave[killed_host]] -= 1   # later waves do not wait for it
        # new requests
        for h in range(1, nodes):
            # relay: the root fetches with one connection (DIST_RELAY_ROOT_CONNECTIONS)
            hwin = root_window if relay and h == 1 and n > 1 else window
            if done_at[h] is not None or h in dead or inflight[h] >= hwin:
                continue
            if whole_only and any(wave_left.get(w, 0) for w in range(1, wave[h])):
                continue
            i = nextm[h]
            while i < nchunks and have[h][i]:
                i += 1
            nextm[h] = i
            ph = par[h]
            k = len(ph)
            scanned = 0
            while i < nchunks and inflight[h] < hwin and scanned < 4 * window * k:
                if not have[h][i] and (h, i) not in flows:
                    src = ph[i % k]
                    usable = src not in dead and (not whole_only or src == 0 or
                                                  done_at[src] is not None)
                    if relay and src != 0 and src not in dead:
                        # the peer's X-Ferry-Have, as last polled; a stalled peer's missing
                        # chunks go to the origin
                        # progress: its set grew (as polled) or bytes from it arrived
                        seen = have[src][i] and t >= have_t[src][i] + poll
                        marks = [m for m in (grown[src], last_byte.get((h, src)))
                                 if m is not None]
                        quiet = t - max(marks) if marks else t
                        if not seen and quiet >= (stall if marks else start_stall):
                            src = 0
                        elif not seen:
                            usable = False
                    if src in dead:
                        # fallback to the origin once the parent has been silent long enough
                        quiet = t - last_byte.get((h, src), 0.0)
                        if quiet >= fallback:
                            src, usable = 0, True
                    limit = window if src == 0 else peer_window
                    if usable and have[src][i] and per_src.get((h, src), 0) < limit:
                        flows[(h, i)] = [src, csize[i]]
                        inflight[h] += 1
                        per_src[(h, src)] = per_src.get((h, src), 0) + 1
                scanned += 1
                i += 1
        # rates
        nup = [0] * nodes
        ndown = [0] * nodes
        for (dst, _), (src, _) in flows.items():
            nup[src] += 1
            ndown[dst] += 1
        finished = []
        for key, fl in flows.items():
            dst, i = key
            src = fl[0]
            r = min(up_cap[src] / nup[src], down_cap[dst] / ndown[dst])
            fl[1] -= r * dt
            last_byte[(dst, src)] = t
            if fl[1] <= 0:
                finished.append(key)
        t += dt
        steps += 1
        for key in finished:
            dst, i = key
            src = flows.pop(key)[0]
            inflight[dst] -= 1
            per_src[(dst, src)] -= 1
            have[dst][i] = 1
            have_t[dst][i] = t
            grown[dst] = t
            count[dst] += 1
            if src == 0:
                from_origin[dst] += csize[i]
            if count[dst] == nchunks:
                done_at[dst] = t
                if dst <= n:
                    remaining_hosts -= 1
                    wave_left[wave[dst]] -= 1
        if steps > 50_000_000:
            raise SystemExit("simulation does not converge")
    times = [done_at[h] for h in range(1, n + 1) if h not in dead]
    return {
        "wall": max(times),
        "p50": statistics.median(times),
        "min": min(times),
        "origin": sum(from_origin) / size,
        "single": size / rate,
    }


def table_head():
    print("| N | strategy | wall s | x single | p50 s | origin sends (files) |")
    print("|---|---|---|---|---|---|")


def table_row(n, strat, res):
    print("| %d | %s | %.1f | %.2f | %.1f | %.2f |" % (
        n, strat, res["wall"], res["wall"] / res["single"], res["p50"], res["origin"]))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, action="append", help="client hosts (repeatable)")
    ap.add_argument("-s", "--size", default="96M")
    ap.add_argument("-c", "--chunk", default="4M")
    ap.add_argument("-b", "--rate-mbit", type=float, default=400.0)
    ap.add_argument("-w", "--window", type=int, default=4,
                    help="requests in flight per host (to the origin)")
    ap.add_argument("--peer-window", type=int,
                    help="requests in flight per host to one peer (default 1: "
                         "FETCH_PEER_WINDOW)")
    ap.add_argument("-r", "--strategy", action="append")
    ap.add_argument("--relay-limit-mbit", type=float)
    ap.add_argument("--kill", help="HOST@FRACTION: kill that relay at that progress")
    ap.add_argument("--fallback", type=float, default=2.0,
                    help="s without a byte before a dead parent's chunks go elsewhere")
    ap.add_argument("--stall", type=float, default=3.0,
                    help="relay: s since a peer's last progress before its missing "
                         "chunks go to the origin (FETCH_PEER_STALL_MS)")
    ap.add_argument("--start-stall", type=float, default=30.0,
                    help="relay: the same for a peer that has not progressed yet "
                         "(FETCH_PEER_START_MS)")
    ap.add_argument("--root-window", type=int, default=1,
                    help="relay: requests in flight of the root to the origin (1: "
                         "DIST_RELAY_ROOT_CONNECTIONS)")
    ap.add_argument("--poll", type=float, default=0.025,
                    help="relay: s between HEAD polls of a peer (FETCH_PEER_POLL_MS)")
    ap.add_argument("--cache-mbit", type=float,
                    help="cache: the cache's link rate (default: the hosts' rate)")
    ap.add_argument("--dt", type=float)
    a = ap.parse_args()
    size, chunk = parse_size(a.size), parse_size(a.chunk)
    rate = a.rate_mbit * 1e6 / 8
    ns = a.n or [8, 100, 1000]
    strats = a.strategy or ["star", "cache", "waves", "tree:2", "relay:1", "relay:2",
                            "relay:4", "stripe:4"]
    kill = None
    if a.kill:
        h, f = a.kill.split("@")
        kill = (int(h), float(f))
    limit = a.relay_limit_mbit * 1e6 / 8 if a.relay_limit_mbit else None
    print("S = %s, c = %s, B = %.0f Mbit/s, W = %d, single host S/B = %.2f s%s" % (
        a.size, a.chunk, a.rate_mbit, a.window, size / rate,
        ", relay %d killed at %.0f %%" % (kill[0], kill[1] * 100) if kill else ""))
    print()
    table_head()
    for n in ns:
        for s in strats:
            if s == "star" and n > 100:
                # analytic: the origin's link carries N copies
                table_row(n, s + " (N*S/B)", {"wall": n * size / rate, "p50": n * size / rate,
                                              "origin": float(n), "single": size / rate})
                continue
            if s == "cache" and n > 100:
                # analytic: the cache's link carries N copies, the origin's one
                u = a.cache_mbit * 1e6 / 8 if a.cache_mbit else rate
                w = max(size / rate, n * size / u)
                table_row(n, s + " (N*S/U)", {"wall": w, "p50": w, "origin": 1.0,
                                              "single": size / rate})
                continue
            table_row(n, s, simulate(n, size, chunk, rate, s, a.window, limit, kill,
                                     a.fallback, a.dt, a.peer_window, a.stall, a.poll,
                                     a.cache_mbit * 1e6 / 8 if a.cache_mbit else None,
                                     a.start_stall, a.root_window))


if __name__ == "__main__":
    main()
