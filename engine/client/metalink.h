/*
 * engine/client/metalink.h - the server's manifest: a hardened Metalink 4 parser
 * (metalink.c).
 */
#ifndef FERRY_CLIENT_METALINK_H
#define FERRY_CLIENT_METALINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/jobs.h" /* FERRY_SIZE_UNKNOWN */

struct metalink {
    uint64_t size;             /* FERRY_SIZE_UNKNOWN when absent */
    uint64_t piece_length;     /* xxh3-128 pieces; 0 when absent */
    uint8_t (*pieces)[16];
    uint64_t npieces;
    uint8_t *zero;             /* npieces flags: chunk is all-zero */
    char **urls;
    size_t nurls;
    bool has_sha256;
    uint8_t sha256[32];
    char *etag;                /* ferry:etag: the version described, NULL when absent */
};
/* Parse a Metalink 4 document (hardened: no DTD, no network, size cap). -EBADMSG on
 * anything malformed, -E2BIG over the cap. */
int metalink_parse(const char *buf, size_t len, struct metalink **ret_ml);
struct metalink *metalink_free(struct metalink *ml);
#define METALINK_MAX_BYTES (64u << 20)
/* <url> elements kept; the rest are ignored (as many as a job's mirrors, JOB_MAX_MIRRORS). */
#define METALINK_MAX_URLS 8u

#endif
