/*
 * engine/server/urlgroup_prefix.h - the grammar of URL group prefixes
 * (scheme://host:port/name, docs/DESIGN.md §2) and URL suffixes, and path-segment
 * encoding. Pure functions, no registry: the fuzz target and the registry both call them.
 */
#ifndef FERRY_SERVER_URLGROUP_PREFIX_H
#define FERRY_SERVER_URLGROUP_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/common.h"

#define URLGROUP_HOST_MAX 253
#define URLGROUP_NAME_MAX 128
#define URLGROUP_SUFFIX_MAX 255
#define URLGROUP_PREFIX_MAX 512

enum urlgroup_host_kind {
    URLGROUP_HOST_STRONG = 0, /* '+': all addresses */
    URLGROUP_HOST_WEAK,       /* '*': all addresses, lowest routing priority */
    URLGROUP_HOST_IPV4,
    URLGROUP_HOST_IPV6,
    URLGROUP_HOST_NAME,       /* resolved once, when the group is created */
};

struct urlgroup_prefix {
    bool https;
    enum urlgroup_host_kind host_kind;
    char host[URLGROUP_HOST_MAX + 1];    /* lowercase; IPv6 canonical, without brackets */
    uint16_t port;
    char name[URLGROUP_NAME_MAX + 1];    /* the one path segment */
    char canonical[URLGROUP_PREFIX_MAX]; /* scheme://host:port/name */
};

/* Parse a group prefix. -EINVAL with a sentence in err when it breaks the grammar. */
int urlgroup_prefix_parse(const char *s, struct urlgroup_prefix *ret, char *err,
                          size_t errlen);
/* Check a URL suffix (one optional leading '/' is dropped): 1..255 bytes, no '/', no "..",
 * no control characters. *ret_suffix points into s. -EINVAL with err otherwise. */
int urlgroup_suffix_check(const char *s, const char **ret_suffix, char *err, size_t errlen);
/* Percent-encode a path segment (everything but [A-Za-z0-9._~-]). -ENOSPC when out is too
 * small (3 * strlen + 1 always suffices). */
int urlgroup_path_encode(const char *seg, char *out, size_t outlen);

#endif
