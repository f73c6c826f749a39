#!/usr/bin/env bash
# The fast crash-point subset (2 episodes, 24 points: create, transfer, temp-file damage, clean stop, progress
# commit, cancel, verify, complete; one episode fetching from nginx, one from a server
# ferryd with chunk manifests). scripts/crashpoints runs the full set (>= 100 points).
# A random seed each run; it is printed, and crashpoints.py --seed S replays it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/crashpoints.py" --episodes "${REL_CRASH_EPISODES:-2}" "$@"
