# tests/integration/wsman_lib.sh - shared by the wsman_* integration tests (source it after
# ../lib/ferry-test.sh): users written straight into STATE/users in the users-file format
# (name:role:pbkdf2-sha256$ITER$SALT_B64$HASH_B64), so these tests need ferryd only.

# wsman_user_add STATE_DIR NAME ROLE PASSWORD
wsman_user_add() {
    mkdir -p "$1"
    /usr/bin/python3 - "$@" <<'PY'
import base64, hashlib, os, sys
d, name, role, pw = sys.argv[1:5]
salt = os.urandom(16)
it = 10000
h = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt, it, 32)
path = os.path.join(d, "users")
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
os.write(fd, ("%s:%s:pbkdf2-sha256$%d$%s$%s\n" % (name, role, it,
              base64.b64encode(salt).decode(), base64.b64encode(h).decode())).encode())
os.close(fd)
PY
}

# wsman_ferryd_start NAME [ferryd args...]: ft_ferryd_start with admin/admin-pw written here
wsman_ferryd_start() {
    local name=$1; shift
    [ -f "$FT_TMP/$name/users" ] || wsman_user_add "$FT_TMP/$name" admin admin admin-pw
    FT_NO_ADMIN=1 ft_ferryd_start "$name" "$@"
}
