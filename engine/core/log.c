/*
 * log.c - the log facility (ferry/log.h): one line per call on stderr, written with a
 * single write(2) so lines from different threads never interleave; under systemd's
 * journal one sd_journal_sendv() entry per call instead, with structured fields.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* FERRY_LOG_NO_JOURNAL: a static test binary (tests/engine/http/ktls_probe) that has no
 * libsystemd to link; it only ever writes stderr. */
#ifndef FERRY_LOG_NO_JOURNAL
/* CODE_FILE= and friends are the caller's (ferry_log_at), not this file's */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>
#endif

#include "ferry/log.h"

static _Atomic int log_level = FERRY_LOG_INFO;
static char log_ident[32] = "ferry";
static _Thread_local char log_thread[16] = "main";

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void
ferry_log_set_level(enum ferry_log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum ferry_log_level
ferry_log_get_level(void)
{
    return (enum ferry_log_level)atomic_load(&log_level);
}

int
ferry_log_parse_level(const char *s, enum ferry_log_level *ret_level)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *ret_level = (enum ferry_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *ret_level = FERRY_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

void
ferry_log_set_thread_name(const char *name)
{
    snprintf(log_thread, sizeof(log_thread), "%s", name ? name : "");
}

void
ferry_log_set_ident(const char *ident)
{
    snprintf(log_ident, sizeof(log_ident), "%s", ident ? ident : "ferry");
}

/* The journal's PRIORITY= (syslog(3) LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG) by level. */
static const char *const level_priorities[] = {"PRIORITY=3", "PRIORITY=4", "PRIORITY=6",
                                               "PRIORITY=7"};

static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static bool journal_on;

/*
 * stderr is the journal when $JOURNAL_STREAM is "DEV:INODE" of stderr itself (what
 * systemd sets for StandardError=journal; a redirected stderr no longer matches).
 */
static void
log_journal_detect(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    char *end;

    if (!e || !*e)
        return;
    errno = 0;
    dev = strtoull(e, &end, 10);
    if (errno || end == e || *end != ':')
        return;
    e = end + 1;
    ino = strtoull(e, &end, 10);
    if (errno || end == e || *end)
        return;
    if (fstat(STDERR_FILENO, &st) < 0)
        return;
    journal_on = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/*
 * Whether lines go to the journal: decided on the first call (thread-safe, once) and fixed
 * for the life of the process; errno is preserved.
 */
bool
ferry_log_to_journal(void)
{
    int saved_errno = errno;

    pthread_once(&journal_once, log_journal_detect);
    errno = saved_errno;
    return journal_on;
}

/* One journal entry; -errno when journald did not take it (the caller then writes stderr). */
static int
log_journal_send(const char *file, int line, const char *func, enum ferry_log_level level,
                 const char *msgid, const char *job, const char *url, const char *text)
{
    char code_file[256], code_line[32], code_func[128], f_msgid[64], f_job[64], f_url[2100],
        ident[64], thread[48];
    struct iovec iov[11];
    size_t n = 0;

#define LOG_IOV(s, len) (iov[n].iov_base = (void *)(s), iov[n].iov_len = (size_t)(len), n++)
#define LOG_FIELD(buf, ...)                                                                   \
    do {                                                                                      \
        int fl = snprintf(buf, sizeof(buf), __VA_ARGS__);                                     \
        if (fl > 0)                                                                           \
            LOG_IOV(buf, (size_t)fl < sizeof(buf) ? (size_t)fl : sizeof(buf) - 1);            \
    } while (0)
    LOG_IOV(text, strlen(text)); /* "MESSAGE=..." */
    LOG_IOV(level_priorities[level], strlen(level_priorities[level]));
    LOG_FIELD(ident, "SYSLOG_IDENTIFIER=%s", log_ident);
    LOG_FIELD(thread, "FERRY_THREAD=%s", log_thread);
    if (msgid)
        LOG_FIELD(f_msgid, "MESSAGE_ID=%s", msgid);
    if (job)
        LOG_FIELD(f_job, "FERRY_JOB=%s", job);
    if (url)
        LOG_FIELD(f_url, "FERRY_URL=%s", url);
    if (file) {
        LOG_FIELD(code_file, "CODE_FILE=%s", file);
        LOG_FIELD(code_line, "CODE_LINE=%d", line);
    }
    if (func)
        LOG_FIELD(code_func, "CODE_FUNC=%s", func);
#undef LOG_FIELD
#undef LOG_IOV
#ifdef FERRY_LOG_NO_JOURNAL
    (void)iov;
    return -ENOSYS;
#else
    return sd_journal_sendv(iov, (int)n);
#endif
}

/*
 * One log line or journal entry (ferry/log.h). Nothing is allocated; the message is cut at
 * 2047 bytes and control characters become '?'. When journald refuses the entry (socket
 * gone, queue full) the plain line goes to stderr instead, so nothing is lost silently.
 * errno is preserved.
 */
void
ferry_log_at(const char *file, int line, const char *func, enum ferry_log_level level,
             const char *msgid, const char *job, const char *url, const char *fmt, ...)
{
    static const char msg_key[] = "MESSAGE=";
    char text[sizeof(msg_key) - 1 + 2048];
    char out[2048];
    struct timespec ts;
    struct tm tm;
    size_t n, tn;
    int saved_errno = errno;
    va_list ap;
    int r;

    if ((int)level > atomic_load(&log_level))
        return;
    if ((unsigned)level > FERRY_LOG_DEBUG)
        level = FERRY_LOG_DEBUG;
    /* the message after "MESSAGE=", so the journal field needs no copy */
    memcpy(text, msg_key, sizeof(msg_key) - 1);
    va_start(ap, fmt);
    r = vsnprintf(text + sizeof(msg_key) - 1, sizeof(text) - (sizeof(msg_key) - 1), fmt, ap);
    va_end(ap);
    tn = sizeof(msg_key) - 1 + (r > 0 ? (size_t)r : 0);
    if (tn >= sizeof(text))
        tn = sizeof(text) - 1;
    text[tn] = '\0';
    /* Control characters from user values never reach the terminal (or journal) raw. */
    for (size_t i = sizeof(msg_key) - 1; i < tn; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 && c != '\t')
            text[i] = '?';
    }
    if (ferry_log_to_journal() &&
        log_journal_send(file, line, func, level, msgid, job, url, text) >= 0) {
        errno = saved_errno;
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    r = snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s %s: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000, log_ident, (int)getpid(), level_names[level],
                 log_thread);
    n = r < 0 ? 0 : (size_t)r;
    if (n >= sizeof(out))
        n = sizeof(out) - 1;
    tn -= sizeof(msg_key) - 1;
    if (tn > sizeof(out) - 2 - n)
        tn = sizeof(out) - 2 - n;
    memcpy(out + n, text + sizeof(msg_key) - 1, tn);
    n += tn;
    out[n++] = '\n';
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDERR_FILENO, out + off, n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        off += (size_t)w;
    }
    errno = saved_errno;
}

/* ferry_log_at() without code location or event fields (callers outside the macros). */
void
ferry_log(enum ferry_log_level level, const char *fmt, ...)
{
    char text[2048];
    va_list ap;

    if ((int)level > atomic_load(&log_level))
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    ferry_log_at(NULL, 0, NULL, level, NULL, NULL, NULL, "%s", text);
}

const char *
ferry_log_escape(const char *s, char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (len == 0)
        return buf;
    if (!s)
        s = "";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool esc = c < 0x20 || c >= 0x7f || c == '\'' || c == '\\';
        size_t need = esc ? 4 : 1;

        if (o + need + 4 > len) { /* room for this, "..." and the NUL */
            if (o + 4 <= len) {
                memcpy(buf + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (esc) {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return buf;
}
