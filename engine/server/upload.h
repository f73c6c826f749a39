/*
 * engine/server/upload.h - the BITS upload protocol on URL groups that accept uploads
 * (docs/internals/server.md "Uploads", docs/DESIGN.md §2): BITS_POST with BITS-Packet-Type
 * Ping / Create-Session / Fragment / Close-Session / Cancel-Session, as Microsoft documents
 * the BITS 1.5 upload protocol (learn.microsoft.com/windows/win32/bits/bits-upload-protocol).
 *
 * A session lives in the group's upload directory as two hidden files, so it survives a
 * crash of ferryd: ".ferry-upload-HEX.meta" (target name and total size) and
 * ".ferry-upload-HEX.part" (the bytes received so far, always contiguous from offset 0).
 * Close-Session renames the part file onto the target name (rename(2): atomic), so a file
 * appears only once it is whole. Cancel-Session removes the session's files; a session
 * that received nothing for --upload-session-timeout is removed by upload_sweep.c (every
 * Fragment touches the meta file).
 */
#ifndef FERRY_SERVER_UPLOAD_H
#define FERRY_SERVER_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/http.h"

/* The only protocol: BITS 1.5 Upload Protocol. */
#define UPLOAD_PROTOCOL_GUID "{7df0354d-249b-430f-820d-3d2a9bef4931}"
/* BITS_POST's verb */
#define UPLOAD_METHOD "BITS_POST"
/* Session not found (BG_E_SESSION_NOT_FOUND) */
#define UPLOAD_E_SESSION_NOT_FOUND 0x8020001Fu
/* BITS-Error-Context values (BG_ERROR_CONTEXT) */
#define UPLOAD_CONTEXT_REMOTE_FILE 5u
#define UPLOAD_CONTEXT_GENERAL_TRANSPORT 6u
/* Hidden names in the upload directory start with this */
#define UPLOAD_HIDDEN_PREFIX ".ferry-upload-"
/* ... and a session's reply (--upload-notify-url) is PREFIX + HEX + this */
#define UPLOAD_REPLY_EXT ".reply"

enum upload_packet {
    UPLOAD_PACKET_INVALID = 0,
    UPLOAD_PACKET_PING,
    UPLOAD_PACKET_CREATE,
    UPLOAD_PACKET_FRAGMENT,
    UPLOAD_PACKET_CLOSE,
    UPLOAD_PACKET_CANCEL,
};

/* A fragment's "Content-Range: bytes START-END/TOTAL" (END inclusive, END < TOTAL), or
 * "bytes *\/TOTAL" for a zero-length fragment, which only asks the next expected offset
 * (empty = true, start = end = 0). */
struct upload_range {
    uint64_t start, end, total;
    bool empty;
};

/* The packet type of a BITS-Packet-Type value (case-insensitive); INVALID for NULL or
 * anything else. */
enum upload_packet upload_packet_parse(const char *value);
/* Parse a fragment's Content-Range. 0, or -EINVAL when malformed (END < START, END >=
 * TOTAL, numbers above 2^63). */
int upload_range_parse(const char *value, struct upload_range *ret_range);
/* true when a BITS-Supported-Protocols list (space-delimited) names UPLOAD_PROTOCOL_GUID. */
bool upload_protocols_ok(const char *value);
/* A BITS-Session-Id ferry issued ("{" 32 hex digits in GUID form "}") to the 32 lower-case
 * hex digits naming its files. 0, or -EINVAL for anything else (never a path). */
int upload_session_hex(const char *value, char ret_hex[33]);
/* true when a target name may become a file: non-empty, at most 255 bytes, no '/', not
 * "." or "..", and not starting with UPLOAD_HIDDEN_PREFIX. */
bool upload_name_ok(const char *name);

/* true when name is one of a session's hidden files (PREFIX + 32 hex + one of its
 * extensions: .meta, .meta.new, .part, UPLOAD_REPLY_EXT, .reply-tmp); its hex, and in
 * *ret_ext (NULL-safe) the extension. */
bool upload_session_file(const char *name, char ret_hex[33], const char **ret_ext);
/* true when name is a session's reply name (PREFIX + 32 hex + UPLOAD_REPLY_EXT); its hex. */
bool upload_reply_name(const char *name, char ret_hex[33]);
/* Remove every hidden file of session hex in dirfd (ENOENT is fine; other failures logged). */
void upload_session_remove(int dirfd, const char *hex);
/* The session `hex` has all its bytes (Close-Session not yet): its target name. 0, or
 * -ENOENT (no such session, or incomplete). */
int upload_session_complete(int dirfd, const char *hex, char *ret_name, size_t len);

struct upload_stream;

/*
 * Answer one BITS_POST (stream: from upload_stream_open for this request, or NULL). dirfd: the group's upload directory (O_PATH or O_DIRECTORY,
 * borrowed); name: the target file name (the URL's suffix, already checked with
 * upload_name_ok); max_size: 0 = unlimited, else the largest total size accepted (413);
 * replies: the Ack of the fragment that completes the upload names BITS-Reply-URL (the
 * reply upload_reply.c makes with --upload-notify-url), and Close/Cancel remove the reply.
 * The request body is the fragment (the HTTP core capped and buffered it). Sets the
 * response's status, Ack headers and BITS-Error-Code/-Context; never blocks on the network.
 */
void upload_handle(int dirfd, const char *name, uint64_t max_size, bool replies,
                   struct upload_stream *stream, const struct ferry_http_request *req,
                   struct ferry_http_response *resp);

/*
 * A fragment written to its session's part file while its body arrives (head hook): for a
 * Fragment of a known session whose range continues the part file, *ret is a stream to give
 * the HTTP core (ferry_http_request_body_sink with upload_stream_write) and then to
 * upload_handle; anything else (*ret NULL) takes the buffered path, which answers it. 0, or
 * -ENOMEM. dirfd is borrowed (the stream has its own descriptor).
 */
struct upload_stream;
int upload_stream_open(int dirfd, const char *name, uint64_t max_size,
                       const struct ferry_http_request *req, struct upload_stream **ret);
/* ferry_http_body_fn: write the bytes beyond what the part file held (no rewrite). */
void upload_stream_write(void *ud, const char *bytes, size_t len, uint64_t offset);
struct upload_stream *upload_stream_free(struct upload_stream *st);

#endif
