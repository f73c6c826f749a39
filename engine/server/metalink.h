/*
 * engine/server/metalink.h - a manifest rendered as a Metalink 4 document (RFC 5854), with
 * ferry's xxh3-128 pieces and zero-chunk markers (docs/internals/manifest.md).
 */
#ifndef FERRY_SERVER_METALINK_H
#define FERRY_SERVER_METALINK_H

#include <stddef.h>

#include "manifest.h"

#define METALINK_NS "urn:ietf:params:xml:ns:metalink"
#define METALINK_FERRY_NS "urn:ferry:manifest:1"
#define METALINK_CONTENT_TYPE "application/metalink4+xml"

/* Render m for the file published as `name` (the URL suffix) and reachable at `url` (already
 * percent-encoded). Returns 0 and a malloc()ed UTF-8 document (NUL-terminated, *ret_len
 * without the NUL) owned by the caller, or -ENOMEM / -EIO when libxml2 fails. */
int metalink_render(const struct manifest *m, const char *name, const char *url,
                    char **ret_xml, size_t *ret_len);

#endif
