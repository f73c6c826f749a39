#!/usr/bin/env bash
# tests/integration/package.sh - the Debian package end to end: dpkg-buildpackage -b on a
# copy of the source tree with no compiler warning under Debian's flags (hardening=+all),
# lintian without errors, dpkg -i on this (throwaway CI) machine,
# the installed files where Debian expects them (ferryd in /usr/sbin, the unit with the
# packaged paths, the conffile, the "ferry" user, /var/lib/ferry 0700, a first admin added
# there by ferryctl run as "ferry", as README says), the installed
# /usr/sbin/ferryd answering Identify to the installed ferryctl on a loopback port with a
# temp state dir, the installed bash completion offering ferryctl's commands (and the
# Grafana dashboard in /usr/share/ferry/grafana), then
# dpkg --purge leaving none of the package's files behind. Needs root and dpkg-dev,
# debhelper, lintian (SKIP otherwise).
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need dpkg-buildpackage dh lintian dpkg runuser /usr/bin/python3
[ "$(id -u)" -eq 0 ] || ft_skip "needs root (dpkg -i)"
cd "$FT_TMP"

# Build from a copy, so nothing lands in the source tree or its parent.
mkdir -p src/ferry
tar -C "$FERRY_SRC" --exclude='./build*' --exclude='./obj-*' --exclude=./.git \
    --exclude='./debian/ferry' --exclude='./debian/.debhelper' -cf - . | tar -C src/ferry -xf -
(cd src/ferry && dpkg-buildpackage -us -uc -b) > build.log 2>&1 \
    || { tail -n 40 build.log >&2; ft_fail "dpkg-buildpackage failed"; }
# debian/rules builds with Debian's flags (hardening=+all, -O2, no -Werror): warning-free.
if grep -E '^[^ :]+:[0-9]+(:[0-9]+)?: warning: ' build.log >warnings.log; then
    cat warnings.log >&2
    ft_fail "the package build (dpkg-buildflags, hardening=+all) has compiler warnings"
fi
deb=$(ls src/ferry_*_*.deb)
[ -f "$deb" ] || ft_fail "no .deb built"

# Lintian: no errors (warnings are reported, not fatal).
lintian --allow-root "$deb" > lintian.log 2>&1 || true
if grep -q '^E: ' lintian.log; then
    cat lintian.log >&2
    ft_fail "lintian reports errors"
fi
ft_log "lintian: $(grep -c '^W: ' lintian.log || true) warning(s), no errors"

# The package's own file list.
dpkg-deb -c "$deb" | awk '{print $6}' > contents
for f in ./usr/sbin/ferryd ./usr/bin/ferryctl ./lib/systemd/system/ferryd.service \
    ./etc/ferry/ferryd.conf ./usr/share/man/man8/ferryd.8.gz ./usr/share/man/man1/ferryctl.1.gz \
    ./usr/share/bash-completion/completions/ferryctl ./usr/share/ferry/grafana/ferry.json; do
    grep -qx "$f" contents || ft_fail "the package lacks $f"
done
dpkg-deb -e "$deb" control
grep -qx /etc/ferry/ferryd.conf control/conffiles || ft_fail "ferryd.conf is not a conffile"

# Install. A package left by an earlier run goes first; services are not started here.
# dpkg refuses at once while another dpkg/apt holds its lock (an unattended upgrade, another
# job on this machine): wait for it, up to 3 minutes, instead of failing on that.
dpkg_locked() {
    [ -e /var/lib/dpkg/lock-frontend ] || return 1
    python3 - <<'PY'
import fcntl, sys
with open("/var/lib/dpkg/lock-frontend", "a") as f:
    try:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit(0)
sys.exit(1)
PY
}
dpkg_wait() {
    local i
    for i in $(seq 180); do dpkg_locked || return 0; sleep 1; done
    ft_fail "the dpkg lock stayed held for 3 minutes"
}
dpkg_wait
dpkg --purge ferry >/dev/null 2>&1 || true
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    ft_on_exit "rm -f $policy"
fi
ft_on_exit "dpkg --purge ferry >/dev/null 2>&1"
dpkg_wait
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" > install.log 2>&1 \
    || { cat install.log >&2; ft_fail "dpkg -i failed"; }
[ -x /usr/sbin/ferryd ] && [ -x /usr/bin/ferryctl ] || ft_fail "binaries not installed"
grep -q '^ExecStart=/usr/sbin/ferryd --config /etc/ferry/ferryd.conf --state-dir /var/lib/ferry$' \
    /lib/systemd/system/ferryd.service || ft_fail "the unit's ExecStart has not the packaged paths"
grep -q '^WatchdogSec=' /lib/systemd/system/ferryd.service || ft_fail "the unit sets no WatchdogSec"
getent passwd ferry > /dev/null || ft_fail "no 'ferry' system user"
uid=$(getent passwd ferry | cut -d: -f3)
[ "$uid" -lt 1000 ] || ft_fail "'ferry' is not a system user (uid $uid)"
ft_assert_eq "700 ferry" "$(stat -c '%a %U' /var/lib/ferry)" "state directory mode and owner"
# README's first administrator: ferryctl run as "ferry" writes a users file ferryd can read
printf 'first-pw\n' | runuser -u ferry -- /usr/bin/ferryctl user add --state-dir /var/lib/ferry \
    admin --role admin >/dev/null || ft_fail "runuser -u ferry -- ferryctl user add failed"
ft_assert_eq "600 ferry" "$(stat -c '%a %U' /var/lib/ferry/users)" "the users file's mode and owner"

# The installed binaries: ferryd with the packaged config (its wsman-listen overridden by
# a free loopback port), a temp state dir, Identify through the installed ferryctl.
FERRYD=/usr/sbin/ferryd
FERRYCTL=/usr/bin/ferryctl
port=$(ft_free_port)
ft_ferryd_start pkg --config /etc/ferry/ferryd.conf --wsman-listen "127.0.0.1:$port"
grep -q "^wsman http://127.0.0.1:$port/wsman$" "$FT_TMP/pkg/ferryd.ready" \
    || ft_fail "ready file: $(cat "$FT_TMP/pkg/ferryd.ready")"
printf 'admin-pw\n' > pw
/usr/bin/ferryctl --endpoint "http://127.0.0.1:$port/wsman" --user admin --password-file pw identify > identify.out 2>&1 \
    || { cat identify.out >&2; ft_fail "ferryctl identify failed"; }
grep -qi 'ferry' identify.out || ft_fail "Identify does not name ferry: $(cat identify.out)"
grep -q '0\.1\.0\|ProductVersion' identify.out || ft_fail "Identify has no version: $(cat identify.out)"
ft_ferryd_stop pkg

# The installed completion offers the commands.
out=$(bash -c '. /usr/share/bash-completion/completions/ferryctl
    COMP_WORDS=(ferryctl j); COMP_CWORD=1; _ferryctl; echo "${COMPREPLY[*]}"')
ft_assert_eq "job" "$out" "completion of 'ferryctl j'"

# Purge: every file of the package, the conffile and the state directory are gone.
dpkg_wait
dpkg --purge ferry > purge.log 2>&1 || { cat purge.log >&2; ft_fail "dpkg --purge failed"; }
for f in $(sed -n 's|^\./|/|p' contents); do
    [ -d "$f" ] && continue
    [ -e "$f" ] && ft_fail "$f is still there after purge"
done
[ -e /etc/ferry ] && ft_fail "/etc/ferry is still there after purge"
[ -e /var/lib/ferry ] && ft_fail "/var/lib/ferry is still there after purge"
dpkg-query -W ferry > /dev/null 2>&1 && ft_fail "dpkg still knows the package"
ft_pass
