#!/usr/bin/env bash
# kTLS for real (docs/internals/http.md, kTLS): boot Debian's cloud kernel (it ships tls.ko) in a
# QEMU TCG guest with a busybox initramfs, and run tests/engine/http/ktls_probe there: the
# engine's HTTP server with a TLS listener serves a 3 MiB file to an OpenSSL client in the
# same program.
#   boot 1: insmod the GCM modules and tls      -> the body must go by kTLS (SSL_sendfile)
#   boot 2: no tls module                       -> userspace TLS, and the log line saying so
# Both: the client's SHA-256 equals the file's. Exits 77 only when qemu, busybox or the
# kernel directory is missing.
# Usage: ktls_vm.sh PATH/TO/ktls_probe
set -uo pipefail

probe=${1:-${FERRY_BUILD:-}/tests/engine/http/ktls_probe}
KDIR=${FERRY_KTLS_KERNEL_DIR:-/var/cache/ferry/ktls-kernel}
BOOT_TIMEOUT=${FERRY_KTLS_BOOT_TIMEOUT:-90}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
command -v cpio >/dev/null || skip "cpio is not installed"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file -L "$busybox" 2>/dev/null | grep -q 'statically linked' \
    || skip "a static busybox (busybox-static) is not installed"
vmlinuz=$(ls "$KDIR"/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$vmlinuz" ] || skip "no kernel in $KDIR/boot (scripts/bootstrap unpacks it)"
kver=${vmlinuz##*/vmlinuz-}
moddir=$KDIR/lib/modules/$kver/kernel
[ -d "$moddir" ] || skip "no modules in $moddir"
[ -x "$probe" ] || fail "probe binary '$probe' not built"
command -v openssl >/dev/null || fail "openssl command missing"

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-ktls-XXXXXX")
cleanup() {
    if [ "${FERRY_TEST_KEEP:-0}" = 1 ]; then echo "FERRY_TEST_KEEP: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Modules in load order (without the GCM ones TLS_TX fails with ENOENT).
mods="crypto/gf128mul crypto/ghash-generic crypto/ctr crypto/gcm crypto/cryptd
      crypto/crypto_simd arch/x86/crypto/aesni-intel net/tls/tls"

root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,tmp,mods}
cp "$busybox" "$root/bin/busybox"
for t in sh mount insmod ip poweroff cat echo grep sleep; do ln -s busybox "$root/bin/$t"; done
for m in $mods; do
    f=$moddir/$m.ko
    [ -f "$f" ] || skip "module $m.ko missing in $moddir"
    cp "$f" "$root/mods/$(basename "$m").ko"
done
cp "$probe" "$root/ktls_probe"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=127.0.0.1 -keyout "$root/key.pem" -out "$root/cert.pem" >/dev/null 2>&1 \
    || fail "openssl could not make a certificate"
{
    echo '#!/bin/sh'
    echo 'export PATH=/bin'
    echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
    echo 'mount -t tmpfs tmp /tmp'
    echo 'ip link set lo up'
    echo 'if grep -q ferry_ktls=1 /proc/cmdline; then'
    for m in $mods; do
        echo "    insmod /mods/$(basename "$m").ko || echo 'KTLS_VM insmod $(basename "$m") failed'"
    done
    echo 'fi'
    echo 'TMPDIR=/tmp /ktls_probe /cert.pem /key.pem 2>&1'
    echo 'echo "KTLS_VM probe_exit=$?"'
    echo 'if [ -r /proc/net/tls_stat ]; then grep TlsTxSw /proc/net/tls_stat | sed "s/^/KTLS_VM /"; fi'
    echo 'poweroff -f'
} > "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz" \
    || fail "could not pack the initramfs"

want=$("$probe" --sha256) || fail "probe --sha256 failed"

boot() { # name, extra kernel args
    local log=$work/$1.log
    timeout -k 5 "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 \
        -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
        -append "console=ttyS0 panic=-1 quiet $2" \
        -nographic -no-reboot -monitor none -serial stdio -display none \
        </dev/null >"$log" 2>&1
    local rc=$?
    tr -d '\r' <"$log" >"$log.txt"
    [ $rc -eq 124 ] && { cat "$log.txt"; fail "$1: guest did not power off within ${BOOT_TIMEOUT}s"; }
    grep -E 'KTLS_|TLS send path' "$log.txt" | sed "s/^/[$1] /"
}

# 1: with the tls module
boot ktls "ferry_ktls=1"
log=$work/ktls.log.txt
grep -q "KTLS_VM insmod .* failed" "$log" && { cat "$log"; fail "ktls: insmod failed"; }
grep -q "KTLS_PROBE kernel_has_ktls=1" "$log" || { cat "$log"; fail "ktls: probe saw no tls module"; }
grep -q "KTLS_PROBE path=ktls bytes=3145728 sha256=$want OK" "$log" \
    || { cat "$log"; fail "ktls: the body did not go by kTLS byte-exact"; }
grep -q "KTLS_PROBE_TLS12 path=ktls bytes=3145728 sha256=$want OK" "$log" \
    || { cat "$log"; fail "ktls: the TLS 1.2 body did not go by kTLS byte-exact"; }
grep -q "TLS send path: kTLS (SSL_sendfile)" "$log" || { cat "$log"; fail "ktls: no kTLS log line"; }
grep -q "KTLS_VM probe_exit=0" "$log" || { cat "$log"; fail "ktls: probe failed"; }
grep -Eq "KTLS_VM TlsTxSw[[:space:]]+2" "$log" || { cat "$log"; fail "ktls: kernel did not count 2 TLS TX sockets"; }

# 2: without it: userspace fallback, said once in the log
boot userspace ""
log=$work/userspace.log.txt
grep -q "KTLS_PROBE kernel_has_ktls=0" "$log" || { cat "$log"; fail "userspace: tls module present?"; }
grep -q "KTLS_PROBE path=userspace bytes=3145728 sha256=$want OK" "$log" \
    || { cat "$log"; fail "userspace: the body did not arrive byte-exact"; }
grep -q "KTLS_PROBE_TLS12 path=userspace bytes=3145728 sha256=$want OK" "$log" \
    || { cat "$log"; fail "userspace: the TLS 1.2 body did not arrive byte-exact"; }
grep -q "TLS send path: userspace TLS (kernel has no kTLS: TCP_ULP tls ENOENT)" "$log" \
    || { cat "$log"; fail "userspace: no fallback log line"; }
[ "$(grep -c 'TLS send path:' "$log")" -eq 1 ] || { cat "$log"; fail "userspace: path logged more than once"; }
grep -q "KTLS_VM probe_exit=0" "$log" || { cat "$log"; fail "userspace: probe failed"; }

echo "PASS: kTLS carried the body with the tls module, userspace TLS without it"
