/*
 * ferry/common.h - definitions shared by every public header: the status record that
 * carries a BITS-style result out of the engine, GUID sizes, small macros.
 */
#ifndef FERRY_COMMON_H
#define FERRY_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define FERRY_API __attribute__((visibility("default")))
#define FERRY_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" plus NUL */
#define FERRY_GUID_STRLEN 39

/* BITS result codes (Microsoft BITS return values, bits.h / winerror.h). */
#define FERRY_S_OK                          0x00000000u
#define FERRY_E_INVALIDARG                  0x80070057u
#define FERRY_E_ACCESSDENIED                0x80070005u
#define FERRY_E_OUTOFMEMORY                 0x8007000Eu
#define FERRY_E_FILE_NOT_FOUND              0x80070002u
#define FERRY_E_PATH_NOT_FOUND              0x80070003u
#define FERRY_E_ALREADY_EXISTS              0x800700B7u
#define FERRY_E_DISK_FULL                   0x80070070u
#define FERRY_E_FAIL                        0x80004005u
#define FERRY_E_NOT_FOUND                   0x80070490u /* HRESULT of ERROR_NOT_FOUND */
#define FERRY_BG_E_NOT_FOUND                0x80200001u
#define FERRY_BG_E_INVALID_STATE            0x80200002u
#define FERRY_BG_E_EMPTY                    0x80200003u
#define FERRY_BG_E_DESTINATION_LOCKED       0x8020000Du
#define FERRY_BG_E_NETWORK_DISCONNECTED     0x80200010u
#define FERRY_BG_E_MISSING_FILE_SIZE        0x80200011u
#define FERRY_BG_E_INSUFFICIENT_HTTP_SUPPORT  0x80200012u
#define FERRY_BG_E_INSUFFICIENT_RANGE_SUPPORT 0x80200013u
#define FERRY_BG_E_INVALID_SERVER_RESPONSE  0x8020001Bu
#define FERRY_BG_E_TOO_MANY_FILES           0x8020001Cu /* upload jobs: more than one file */
#define FERRY_BG_E_LOCAL_FILE_CHANGED       0x8020001Du
#define FERRY_BG_E_NO_PROGRESS              0x80200024u
#define FERRY_BG_E_INVALID_RANGE            0x8020002Bu
#define FERRY_BG_E_INVALID_PROXY_INFO       0x8020003Fu
#define FERRY_BG_E_INVALID_AUTH_TARGET      0x80200027u /* SetCredentials Target */
#define FERRY_BG_E_INVALID_AUTH_SCHEME      0x80200028u /* SetCredentials Scheme */
#define FERRY_BG_E_TOO_MANY_JOBS_PER_MACHINE 0x80200050u /* the live-job limit (max-jobs) */
#define FERRY_BG_E_TOO_MANY_FILES_IN_JOB    0x80200051u /* max-files-per-job */
#define FERRY_BG_E_MAXDOWNLOAD_TIMEOUT      0x80200054u /* MaxDownloadTime exceeded */
/* Success codes (high bit clear): a ReturnValue that is not a failure. */
#define FERRY_BG_S_PARTIAL_COMPLETE         0x00200017u /* Complete kept only some files */
#define FERRY_BG_E_HTTP_ERROR(status)       (0x80190000u + (uint32_t)(status))
/* ferry's own, in the customer bit range (0xA... = severity|customer) */
#define FERRY_E_CHECKSUM_MISMATCH           0xA0460001u /* whole-file digest differs */
#define FERRY_E_REMOTE_CHANGED              0xA0460002u /* remote changed, no resume possible */

/*
 * How a failed engine call should reach a controller. The WS-Man layer maps
 * FERRY_STATUS_INVALID_PARAMETER to a w:InvalidParameter fault, FERRY_STATUS_NOT_FOUND to
 * w:InvalidSelectors, FERRY_STATUS_RESULT to a ReturnValue of `code`, FERRY_STATUS_INTERNAL
 * to w:InternalError.
 */
enum ferry_status_kind {
    FERRY_STATUS_OK = 0,
    FERRY_STATUS_RESULT,            /* a BITS-style failure reported as ReturnValue */
    FERRY_STATUS_INVALID_PARAMETER, /* `param` names the offending argument */
    FERRY_STATUS_NOT_FOUND,         /* the job / group / URL does not exist */
    FERRY_STATUS_INTERNAL,
};

struct ferry_status {
    enum ferry_status_kind kind;
    uint32_t code;   /* BITS-style HRESULT, 0 on success */
    char param[64];  /* offending parameter name, "" if none */
    char text[256];  /* one clear sentence for humans, never containing credentials */
};

/* Fill *st (NULL-safe). Returns `ret` so callers can write `return ferry_status_set(...)`. */
FERRY_API int ferry_status_set(struct ferry_status *st, int ret, enum ferry_status_kind kind,
                               uint32_t code, const char *param, const char *fmt, ...)
    FERRY_PRINTF(6, 7);
FERRY_API void ferry_status_clear(struct ferry_status *st);
/* The one out-of-memory status: w:InternalError, E_OUTOFMEMORY, "out of memory". Returns
 * `ret` (normally -ENOMEM) like ferry_status_set. */
FERRY_API int ferry_status_oom(struct ferry_status *st, int ret);

/* Format a message into the caller's error buffer err[errlen] (NULL-safe, truncating) and
 * return `ret`, so parsers write `return ferry_errf(err, errlen, -EINVAL, "...", ...)`. */
FERRY_API int ferry_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
    FERRY_PRINTF(4, 5);

/* Lowercase hex of `len` bytes into `out`, which holds 2 * len + 1 (NUL-terminated). */
FERRY_API void ferry_hex_encode(const uint8_t *in, size_t len, char *out);

/* Wall clock as a Windows FILETIME (100-ns intervals since 1601-01-01 UTC), the unit of
 * BITS's uint64 time properties. */
FERRY_API uint64_t ferry_filetime_now(void);
FERRY_API uint64_t ferry_filetime_from_unix_ns(int64_t ns);

/* Fresh random GUID as "{...}" (uppercase hex). */
FERRY_API void ferry_guid_new(char ret[FERRY_GUID_STRLEN]);
/* 0 when `s` is a well-formed "{GUID}" (case-insensitive), -EINVAL otherwise. */
FERRY_API int ferry_guid_check(const char *s);

#endif
