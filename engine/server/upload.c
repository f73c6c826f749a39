/*
 * upload.c - the BITS upload protocol (upload.h): packet parsing and the session files in
 * a URL group's upload directory. Every path is dirfd-relative with O_NOFOLLOW, names are
 * checked before use, and session ids are hex only, so no request can name a file outside
 * the upload directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/common.h"
#include "ferry/log.h"
#include "upload.h"

#define UPLOAD_META_MAX 512
#define UPLOAD_NAME_MAX 255

enum upload_packet
upload_packet_parse(const char *value)
{
    static const struct {
        const char *name;
        enum upload_packet type;
    } types[] = {
        {"Ping", UPLOAD_PACKET_PING},
        {"Create-Session", UPLOAD_PACKET_CREATE},
        {"Fragment", UPLOAD_PACKET_FRAGMENT},
        {"Close-Session", UPLOAD_PACKET_CLOSE},
        {"Cancel-Session", UPLOAD_PACKET_CANCEL},
    };

    if (!value)
        return UPLOAD_PACKET_INVALID;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(value, types[i].name) == 0)
            return types[i].type;
    return UPLOAD_PACKET_INVALID;
}

/* Decimal digits at *s into *ret (at most 2^63 - 1); advances *s. 0 or -EINVAL. */
static int
upload_number(const char **s, uint64_t *ret)
{
    uint64_t v = 0;
    const char *p = *s;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX / 2 - 9) / 10)
            return -EINVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *s = p;
    *ret = v;
    return 0;
}

int
upload_range_parse(const char *value, struct upload_range *ret_range)
{
    struct upload_range r = {0};
    const char *p = value;

    if (!p || strncasecmp(p, "bytes", 5) != 0)
        return -EINVAL;
    p += 5;
    if (*p != ' ' && *p != '=')
        return -EINVAL;
    while (*p == ' ' || *p == '=')
        p++;
    if (*p == '*') {
        r.empty = true;
        p++;
    } else {
        if (upload_number(&p, &r.start) < 0 || *p++ != '-' || upload_number(&p, &r.end) < 0)
            return -EINVAL;
    }
    if (*p++ != '/' || upload_number(&p, &r.total) < 0 || *p != '\0')
        return -EINVAL;
    if (!r.empty && (r.end < r.start || r.end >= r.total))
        return -EINVAL;
    *ret_range = r;
    return 0;
}

bool
upload_protocols_ok(const char *value)
{
    size_t glen = strlen(UPLOAD_PROTOCOL_GUID);

    for (const char *p = value; p && *p;) {
        size_t n;

        p += strspn(p, " \t");
        n = strcspn(p, " \t");
        if (n == glen && strncasecmp(p, UPLOAD_PROTOCOL_GUID, glen) == 0)
            return true;
        p += n;
    }
    return false;
}

int
upload_session_hex(const char *value, char ret_hex[33])
{
    /* {8-4-4-4-12} */
    static const int dash[] = {9, 14, 19, 24};
    char hex[33];
    size_t n = 0;

    if (!value || strlen(value) != 38 || value[0] != '{' || value[37] != '}')
        return -EINVAL;
    for (size_t i = 1; i < 37; i++) {
        char c = value[i];
        bool is_dash = false;

        for (size_t d = 0; d < 4; d++)
            is_dash |= (int)i == dash[d];
        if (is_dash) {
            if (c != '-')
                return -EINVAL;
            continue;
        }
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -EINVAL;
        hex[n++] = c;
    }
    hex[n] = '\0';
    memcpy(ret_hex, hex, sizeof(hex));
    return 0;
}

bool
upload_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > UPLOAD_NAME_MAX || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return false;
    return strncmp(name, UPLOAD_HIDDEN_PREFIX, strlen(UPLOAD_HIDDEN_PREFIX)) != 0;
}

/* ---- session files ---- */

struct upload_session {
    char hex[33];
    char id[FERRY_GUID_STRLEN];
    char name[UPLOAD_NAME_MAX + 1];
    uint64_t total;   /* UINT64_MAX while no fragment told it */
};

static void
upload_file_name(char *buf, size_t len, const char *hex, const char *ext)
{
    snprintf(buf, len, "%s%s.%s", UPLOAD_HIDDEN_PREFIX, hex, ext);
}

/* Write the session's meta file: a temp name, fsync, rename. 0 or -errno. */
static int
upload_meta_write(int dirfd, const struct upload_session *s)
{
    char path[96], tmp[100], buf[UPLOAD_META_MAX];
    int fd, n, r = 0;

    upload_file_name(path, sizeof(path), s->hex, "meta");
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    n = snprintf(buf, sizeof(buf), "ferry-upload 1\n%s\n%" PRIu64 "\n", s->name,
                 s->total == UINT64_MAX ? (uint64_t)0 : s->total + 1);
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    if (write(fd, buf, (size_t)n) != n || fsync(fd) < 0)
        r = errno ? -errno : -EIO;
    close(fd);
    if (r == 0 && renameat(dirfd, tmp, dirfd, path) < 0)
        r = -errno;
    if (r < 0)
        unlinkat(dirfd, tmp, 0);
    return r;
}

/* Load a session by its id. -ENOENT when there is none (or its meta file is damaged). */
static int
upload_meta_read_hex(int dirfd, const char *hex, struct upload_session *ret)
{
    struct upload_session s = {0};
    char path[96], buf[UPLOAD_META_MAX + 1], *nl, *name, *tot, *end;
    ssize_t n;
    int fd;
    unsigned long long t;

    memcpy(s.hex, hex, sizeof(s.hex));
    upload_file_name(path, sizeof(path), s.hex, "meta");
    fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -ENOENT;
    n = read(fd, buf, UPLOAD_META_MAX);
    close(fd);
    if (n <= 0)
        return -ENOENT;
    buf[n] = '\0';
    if (strncmp(buf, "ferry-upload 1\n", 15) != 0)
        return -ENOENT;
    name = buf + 15;
    nl = strchr(name, '\n');
    if (!nl)
        return -ENOENT;
    *nl = '\0';
    tot = nl + 1;
    errno = 0;
    t = strtoull(tot, &end, 10);
    if (errno || end == tot || *end != '\n' || !upload_name_ok(name))
        return -ENOENT;
    memcpy(s.name, name, strlen(name) + 1); /* upload_name_ok: at most UPLOAD_NAME_MAX */
    s.total = t == 0 ? UINT64_MAX : (uint64_t)t - 1;
    *ret = s;
    return 0;
}

static int
upload_meta_read(int dirfd, const char *id, struct upload_session *ret)
{
    struct upload_session s;
    char hex[33];

    if (upload_session_hex(id, hex) < 0 || upload_meta_read_hex(dirfd, hex, &s) < 0)
        return -ENOENT;
    memcpy(s.id, id, FERRY_GUID_STRLEN - 1); /* upload_session_hex: 38 characters */
    s.id[FERRY_GUID_STRLEN - 1] = '\0';
    *ret = s;
    return 0;
}

/* Every hidden file a session may have, after PREFIX + HEX. */
static const char *const upload_session_exts[] = {".meta", ".meta.new", ".part",
                                                  UPLOAD_REPLY_EXT, ".reply-tmp"};

bool
upload_session_file(const char *name, char ret_hex[33], const char **ret_ext)
{
    size_t pl = strlen(UPLOAD_HIDDEN_PREFIX);

    if (!name || strncmp(name, UPLOAD_HIDDEN_PREFIX, pl) != 0 || strlen(name) < pl + 32)
        return false;
    for (size_t i = 0; i < 32; i++) {
        char c = name[pl + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        ret_hex[i] = c;
    }
    ret_hex[32] = '\0';
    for (size_t i = 0; i < sizeof(upload_session_exts) / sizeof(upload_session_exts[0]); i++)
        if (strcmp(name + pl + 32, upload_session_exts[i]) == 0) {
            if (ret_ext)
                *ret_ext = upload_session_exts[i];
            return true;
        }
    return false;
}

bool
upload_reply_name(const char *name, char ret_hex[33])
{
    const char *ext;

    return upload_session_file(name, ret_hex, &ext) && strcmp(ext, UPLOAD_REPLY_EXT) == 0;
}

void
upload_session_remove(int dirfd, const char *hex)
{
    char path[96];

    for (size_t i = 0; i < sizeof(upload_session_exts) / sizeof(upload_session_exts[0]); i++) {
        snprintf(path, sizeof(path), "%s%s%s", UPLOAD_HIDDEN_PREFIX, hex, upload_session_exts[i]);
        if (unlinkat(dirfd, path, 0) < 0 && errno != ENOENT)
            ferry_log_warn("upload session %s: '%s' could not be removed: %s", hex, path,
                           strerror(errno));
    }
}

int
upload_session_complete(int dirfd, const char *hex, char *ret_name, size_t len)
{
    struct upload_session s;
    char path[96];
    struct stat st;

    if (upload_meta_read_hex(dirfd, hex, &s) < 0 || s.total == UINT64_MAX)
        return -ENOENT;
    upload_file_name(path, sizeof(path), hex, "part");
    if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size != s.total)
        return -ENOENT;
    if ((size_t)snprintf(ret_name, len, "%s", s.name) >= len)
        return -ENAMETOOLONG;
    return 0;
}

/* ---- responses ---- */

static void
upload_ack(struct ferry_http_response *resp, int status, const char *id)
{
    ferry_http_response_status(resp, status);
    ferry_http_response_header(resp, "BITS-Packet-Type", "Ack");
    if (id)
        ferry_http_response_header(resp, "BITS-Session-Id", "%s", id);
}

static void
upload_error(struct ferry_http_response *resp, int status, const char *id, uint32_t code,
             uint32_t context)
{
    upload_ack(resp, status, id);
    ferry_http_response_header(resp, "BITS-Error-Code", "0x%08x", code);
    ferry_http_response_header(resp, "BITS-Error-Context", "0x%x", context);
}

/* errno of a failed file operation to an Ack */
static void
upload_error_errno(struct ferry_http_response *resp, const char *id, int r)
{
    if (r == -ENOSPC || r == -EDQUOT)
        upload_error(resp, 507, id, FERRY_E_DISK_FULL, UPLOAD_CONTEXT_REMOTE_FILE);
    else if (r == -EACCES || r == -EPERM || r == -EROFS)
        upload_error(resp, 403, id, FERRY_E_ACCESSDENIED, UPLOAD_CONTEXT_REMOTE_FILE);
    else
        upload_error(resp, 500, id, FERRY_E_FAIL, UPLOAD_CONTEXT_REMOTE_FILE);
}

static void
upload_create(int dirfd, const char *name, const struct ferry_http_request *req,
              struct ferry_http_response *resp)
{
    struct upload_session s = {.total = UINT64_MAX};
    int r;

    if (!upload_protocols_ok(ferry_http_request_header(req, "BITS-Supported-Protocols"))) {
        upload_error(resp, 400, NULL, FERRY_E_INVALIDARG, UPLOAD_CONTEXT_GENERAL_TRANSPORT);
        return;
    }
    /* the session id is a fresh GUID; its 32 hex digits name the session's files */
    ferry_guid_new(s.id);
    upload_session_hex(s.id, s.hex);
    if (!upload_name_ok(name)) {
        upload_error(resp, 400, NULL, FERRY_E_INVALIDARG, UPLOAD_CONTEXT_REMOTE_FILE);
        return;
    }
    memcpy(s.name, name, strlen(name) + 1);
    r = upload_meta_write(dirfd, &s);
    if (r < 0) {
        ferry_log_warn("upload session for '%s' could not be created: %s", name,
                       strerror(-r));
        upload_error_errno(resp, NULL, r);
        return;
    }
    upload_ack(resp, 201, s.id);
    ferry_http_response_header(resp, "BITS-Protocol", UPLOAD_PROTOCOL_GUID);
    ferry_http_response_header(resp, "Accept-Encoding", "Identity");
}

/* pwrite all of buf at off. 0 or -errno. */
static int
upload_pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        buf += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* BITS-Reply-URL of a whole upload: the request's path with its last segment replaced by
 * the session's reply name (served by upload_reply.c). */
static void
upload_reply_header(const struct upload_session *s, const struct ferry_http_request *req,
                    struct ferry_http_response *resp)
{
    const char *path = ferry_http_request_path(req);
    const char *slash = strrchr(path, '/');

    ferry_http_response_header(resp, "BITS-Reply-URL", "%.*s%s%s%s",
                               slash ? (int)(slash - path + 1) : 0, path,
                               UPLOAD_HIDDEN_PREFIX, s->hex, UPLOAD_REPLY_EXT);
}

static void
upload_fragment(int dirfd, const struct upload_session *cs, uint64_t max_size, bool replies,
                const struct ferry_http_request *req, struct ferry_http_response *resp)
{
    struct upload_session s = *cs;
    struct upload_range rg;
    struct stat st;
    const uint8_t *body;
    size_t blen = 0;
    char path[96];
    uint64_t have, skip;
    int fd = -1, r;

    body = ferry_http_request_body(req, &blen);
    if (upload_range_parse(ferry_http_request_header(req, "Content-Range"), &rg) < 0 ||
        (rg.empty && blen != 0) || (!rg.empty && blen != rg.end - rg.start + 1) ||
        (s.total != UINT64_MAX && rg.total != s.total)) {
        upload_error(resp, 400, s.id, FERRY_BG_E_INVALID_RANGE, UPLOAD_CONTEXT_REMOTE_FILE);
        return;
    }
    if (max_size > 0 && rg.total > max_size) {
        upload_error(resp, 413, s.id, FERRY_BG_E_HTTP_ERROR(413), UPLOAD_CONTEXT_REMOTE_FILE);
        return;
    }
    if (s.total == UINT64_MAX) {
        s.total = rg.total;
        r = upload_meta_write(dirfd, &s);
        if (r < 0) {
            upload_error_errno(resp, s.id, r);
            return;
        }
    }
    upload_file_name(path, sizeof(path), s.hex, "part");
    fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fstat(fd, &st) < 0) {
        r = -errno;
        goto fail;
    }
    have = (uint64_t)st.st_size;
    if (have > s.total) {
        /* a damaged part file cannot be trusted: the client starts again */
        if (ftruncate(fd, 0) < 0) {
            r = -errno;
            goto fail;
        }
        have = 0;
    }
    if (!rg.empty && rg.start > have) {
        /* not contiguous: tell the client where to go on from */
        upload_ack(resp, 416, s.id);
        ferry_http_response_header(resp, "BITS-Received-Content-Range", "%" PRIu64, have);
        goto done;
    }
    if (!rg.empty && rg.end + 1 > have) {
        /* only the part beyond what was received is written (BITS: no overwrite) */
        skip = have - rg.start;
        r = upload_pwrite_all(fd, body + skip, blen - (size_t)skip, have);
        if (r < 0)
            goto fail;
        /* start the writeback now (never waits for it): Close-Session's fsync then waits
         * for the last fragments only, not for the whole file */
        (void)sync_file_range(fd, (off_t)have, (off_t)(blen - skip), SYNC_FILE_RANGE_WRITE);
        have = rg.end + 1;
    }
    upload_ack(resp, 200, s.id);
    ferry_http_response_header(resp, "BITS-Received-Content-Range", "%" PRIu64, have);
    if (replies && have == s.total)
        upload_reply_header(&s, req, resp);
done:
    close(fd);
    return;
fail:
    ferry_log_warn("upload fragment for '%s' could not be written: %s", s.name, strerror(-r));
    upload_error_errno(resp, s.id, r);
    if (fd >= 0)
        close(fd);
}

/* A fragment written while it arrives (upload_stream_open): its session and range, the
 * part file and the size it had then; bytes below `have` are not rewritten. */
struct upload_stream {
    struct upload_session s;
    struct upload_range rg;
    int fd;
    uint64_t have;
    uint64_t got;  /* body bytes seen */
    int err;       /* first write error, -errno */
};

int
upload_stream_open(int dirfd, const char *name, uint64_t max_size,
                   const struct ferry_http_request *req, struct upload_stream **ret)
{
    struct upload_stream *st = NULL;
    struct upload_session s;
    struct upload_range rg;
    struct stat sb;
    char path[96];
    int fd;

    *ret = NULL;
    if (upload_packet_parse(ferry_http_request_header(req, "BITS-Packet-Type")) !=
            UPLOAD_PACKET_FRAGMENT ||
        upload_meta_read(dirfd, ferry_http_request_header(req, "BITS-Session-Id"), &s) < 0 ||
        strcmp(s.name, name) != 0 ||
        upload_range_parse(ferry_http_request_header(req, "Content-Range"), &rg) < 0 ||
        rg.empty || s.total == UINT64_MAX || rg.total != s.total ||
        (max_size > 0 && rg.total > max_size))
        return 0; /* everything else: the buffered path decides */
    upload_file_name(path, sizeof(path), s.hex, "part");
    fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size > s.total ||
        rg.start > (uint64_t)sb.st_size) {
        close(fd);
        return 0;
    }
    st = calloc(1, sizeof(*st));
    if (!st) {
        close(fd);
        return -ENOMEM;
    }
    st->s = s;
    st->rg = rg;
    st->fd = fd;
    st->have = (uint64_t)sb.st_size;
    *ret = st;
    return 0;
}

void
upload_stream_write(void *ud, const char *bytes, size_t len, uint64_t offset)
{
    struct upload_stream *st = ud;
    uint64_t at = st->rg.start + offset, skip = 0;
    int r;

    st->got = offset + len;
    if (st->err || at + len > st->rg.end + 1)
        return;
    if (at < st->have)
        skip = st->have - at < len ? st->have - at : len;
    if (skip == len)
        return;
    r = upload_pwrite_all(st->fd, (const uint8_t *)bytes + skip, len - (size_t)skip, at + skip);
    if (r < 0)
        st->err = r;
}

struct upload_stream *
upload_stream_free(struct upload_stream *st)
{
    if (!st)
        return NULL;
    if (st->fd >= 0)
        close(st->fd);
    free(st);
    return NULL;
}

/* The handler's part of a streamed fragment: the bytes are on their way to the part file. */
static void
upload_fragment_streamed(int dirfd, struct upload_stream *st, bool replies,
                         const struct ferry_http_request *req,
                         struct ferry_http_response *resp)
{
    size_t blen = 0;
    uint64_t have;

    (void)dirfd;
    ferry_http_request_body(req, &blen);
    if (blen != st->rg.end - st->rg.start + 1 || st->got != blen) {
        upload_error(resp, 400, st->s.id, FERRY_BG_E_INVALID_RANGE, UPLOAD_CONTEXT_REMOTE_FILE);
        return;
    }
    if (st->err) {
        ferry_log_warn("upload fragment for '%s' could not be written: %s", st->s.name,
                       strerror(-st->err));
        upload_error_errno(resp, st->s.id, st->err);
        return;
    }
    have = st->rg.end + 1 > st->have ? st->rg.end + 1 : st->have;
    if (have > st->have)
        (void)sync_file_range(st->fd, (off_t)st->have, (off_t)(have - st->have),
                              SYNC_FILE_RANGE_WRITE);
    upload_ack(resp, 200, st->s.id);
    ferry_http_response_header(resp, "BITS-Received-Content-Range", "%" PRIu64, have);
    if (replies && have == st->s.total)
        upload_reply_header(&st->s, req, resp);
}

static void
upload_close(int dirfd, const struct upload_session *s, struct ferry_http_response *resp)
{
    char path[96];
    struct stat st;
    int fd, r = 0;

    upload_file_name(path, sizeof(path), s->hex, "part");
    fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fstat(fd, &st) < 0) {
        r = -errno;
        goto fail;
    }
    if ((s->total == UINT64_MAX && st.st_size != 0) ||
        (s->total != UINT64_MAX && (uint64_t)st.st_size != s->total)) {
        /* closing before all fragments arrived: no partial file (BITS) */
        close(fd);
        upload_session_remove(dirfd, s->hex);
        upload_error(resp, 400, s->id, FERRY_BG_E_INVALID_RANGE, UPLOAD_CONTEXT_REMOTE_FILE);
        return;
    }
    if (fsync(fd) < 0 || renameat(dirfd, path, dirfd, s->name) < 0) {
        r = -errno;
        goto fail;
    }
    close(fd);
    upload_file_name(path, sizeof(path), s->hex, "meta");
    unlinkat(dirfd, path, 0);
    upload_file_name(path, sizeof(path), s->hex, "reply");
    unlinkat(dirfd, path, 0);
    if (fsync(dirfd) < 0 && errno != EBADF && errno != EINVAL)
        ferry_log_warn("upload directory could not be synced: %s", strerror(errno));
    ferry_log_info("upload '%s' complete (%lld bytes)", s->name, (long long)st.st_size);
    upload_ack(resp, 200, s->id);
    return;
fail:
    if (fd >= 0)
        close(fd);
    ferry_log_warn("upload '%s' could not be closed: %s", s->name, strerror(-r));
    upload_error_errno(resp, s->id, r);
}

void
upload_handle(int dirfd, const char *name, uint64_t max_size, bool replies,
              struct upload_stream *stream, const struct ferry_http_request *req,
              struct ferry_http_response *resp)
{
    enum upload_packet type =
        upload_packet_parse(ferry_http_request_header(req, "BITS-Packet-Type"));
    const char *id = ferry_http_request_header(req, "BITS-Session-Id");
    struct upload_session s;

    switch (type) {
    case UPLOAD_PACKET_PING:
        upload_ack(resp, 200, NULL);
        return;
    case UPLOAD_PACKET_CREATE:
        upload_create(dirfd, name, req, resp);
        return;
    case UPLOAD_PACKET_INVALID:
        upload_error(resp, 400, NULL, FERRY_E_INVALIDARG, UPLOAD_CONTEXT_GENERAL_TRANSPORT);
        return;
    default:
        break;
    }
    /* the session must exist and belong to this URL */
    if (upload_meta_read(dirfd, id, &s) < 0 || strcmp(s.name, name) != 0) {
        upload_error(resp, 400, upload_session_hex(id, s.hex) == 0 ? id : NULL,
                     UPLOAD_E_SESSION_NOT_FOUND, UPLOAD_CONTEXT_REMOTE_FILE);
        return;
    }
    if (type == UPLOAD_PACKET_FRAGMENT) {
        /* activity: the session's timeout (upload_sweep.c) counts from its newest file */
        char path[96];

        upload_file_name(path, sizeof(path), s.hex, "meta");
        (void)utimensat(dirfd, path, NULL, AT_SYMLINK_NOFOLLOW);
    }
    if (type == UPLOAD_PACKET_FRAGMENT && stream && strcmp(stream->s.hex, s.hex) == 0) {
        upload_fragment_streamed(dirfd, stream, replies, req, resp);
    } else if (type == UPLOAD_PACKET_FRAGMENT) {
        upload_fragment(dirfd, &s, max_size, replies, req, resp);
    } else if (type == UPLOAD_PACKET_CLOSE) {
        upload_close(dirfd, &s, resp);
    } else {
        upload_session_remove(dirfd, s.hex);
        upload_ack(resp, 200, s.id);
    }
}
