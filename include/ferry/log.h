/*
 * ferry/log.h - the log facility. Lines go to stderr as
 *   "2026-11-21T23:25:24.123Z ferryd[pid] LEVEL thread: message"
 * Messages are whole sentences and quote user values: open('%s') failed.
 * Thread-safe; each call writes one line with a single write(2).
 *
 * Under systemd's journal (stderr is the journal stream: $JOURNAL_STREAM names stderr's
 * device:inode) each call is one journal entry sent with sd_journal_send(): MESSAGE=,
 * PRIORITY= (syslog level), SYSLOG_IDENTIFIER=, FERRY_THREAD=, CODE_FILE=/CODE_LINE=/
 * CODE_FUNC= for the macros below, and for ferry_log_event() MESSAGE_ID=, FERRY_JOB=,
 * FERRY_URL=. See docs/internals/logging.md.
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include "ferry/common.h"
#include "ferry/log_msgid.h"

enum ferry_log_level {
    FERRY_LOG_ERROR = 0,
    FERRY_LOG_WARN,
    FERRY_LOG_INFO,
    FERRY_LOG_DEBUG,
};

FERRY_API void ferry_log_set_level(enum ferry_log_level level);
FERRY_API enum ferry_log_level ferry_log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -EINVAL otherwise. */
FERRY_API int ferry_log_parse_level(const char *s, enum ferry_log_level *ret_level);
/* Name shown for the calling thread (at most 15 chars), e.g. "wsman", "worker-1". */
FERRY_API void ferry_log_set_thread_name(const char *name);
/* Program name shown in each line (default "ferry"). */
FERRY_API void ferry_log_set_ident(const char *ident);
/* A peer-supplied string made safe to put inside quotes in a log line: '\'', '\\', control
 * bytes and bytes >= 0x7f become \xHH, so a user name cannot end its quotes or forge the
 * rest of the line. Truncated to len - 1 bytes (ending in "..." when cut); returns buf. */
FERRY_API const char *ferry_log_escape(const char *s, char *buf, size_t len);
FERRY_API void ferry_log(enum ferry_log_level level, const char *fmt, ...) FERRY_PRINTF(2, 3);
/* The one log call behind the others. file/line/func (or NULL/0) become CODE_FILE=,
 * CODE_LINE=, CODE_FUNC=; msgid (a FERRY_MSGID_*), job (a job GUID) and url become
 * MESSAGE_ID=, FERRY_JOB=, FERRY_URL= in the journal; NULL ones are left out. The plain
 * stderr line is the same as ferry_log()'s whatever the fields. */
FERRY_API void ferry_log_at(const char *file, int line, const char *func,
                            enum ferry_log_level level, const char *msgid, const char *job,
                            const char *url, const char *fmt, ...) FERRY_PRINTF(8, 9);
/* True when log lines go to the journal (decided once, from $JOURNAL_STREAM and stderr). */
FERRY_API bool ferry_log_to_journal(void);

#define FERRY_LOG_AT(level, msgid, job, url, ...)                                             \
    ferry_log_at(__FILE__, __LINE__, __func__, level, msgid, job, url, __VA_ARGS__)
/* A main event (daemon start/stop, job and URL life, lockouts): one MESSAGE_ID each. */
#define ferry_log_event(level, msgid, job, url, ...)                                          \
    FERRY_LOG_AT(level, msgid, job, url, __VA_ARGS__)
#define ferry_log_error(...) FERRY_LOG_AT(FERRY_LOG_ERROR, NULL, NULL, NULL, __VA_ARGS__)
#define ferry_log_warn(...) FERRY_LOG_AT(FERRY_LOG_WARN, NULL, NULL, NULL, __VA_ARGS__)
#define ferry_log_info(...) FERRY_LOG_AT(FERRY_LOG_INFO, NULL, NULL, NULL, __VA_ARGS__)
#define ferry_log_debug(...)                                                                  \
    do {                                                                                      \
        if (ferry_log_get_level() >= FERRY_LOG_DEBUG)                                         \
            FERRY_LOG_AT(FERRY_LOG_DEBUG, NULL, NULL, NULL, __VA_ARGS__);                     \
    } while (0)

#endif
