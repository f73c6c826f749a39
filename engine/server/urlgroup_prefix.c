/*
 * urlgroup_prefix.c - URL group prefix grammar, URL suffix rules, path-segment encoding
 * (urlgroup_prefix.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "urlgroup_prefix.h"

/* ---- grammar ---- */

static bool
urlgroup_seg_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '~' || c == '-';
}

static int
urlgroup_host_name_check(const char *h, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > URLGROUP_HOST_MAX)
        return -EINVAL;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || h[i] == '.') {
            if (label == 0 || label > 63 || h[i - 1] == '-' || h[i - label] == '-')
                return -EINVAL;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)h[i]) && h[i] != '-')
            return -EINVAL;
        label++;
    }
    return 0;
}

int
urlgroup_prefix_parse(const char *s, struct urlgroup_prefix *ret, char *err, size_t errlen)
{
    struct urlgroup_prefix p = {0};
    const char *h, *q, *name;
    size_t hlen, nlen;
    char hbuf[URLGROUP_HOST_MAX + 1];

    if (!s || !*s)
        return ferry_errf(err, errlen, -EINVAL, "the URL group prefix is empty");
    if (strlen(s) >= URLGROUP_PREFIX_MAX - 8)
        return ferry_errf(err, errlen, -EINVAL, "the URL group prefix is too long");
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return ferry_errf(err, errlen, -EINVAL,
                                "URL group '%s' contains spaces or control characters", s);
    if (strncasecmp(s, "http://", 7) == 0) {
        h = s + 7;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        p.https = true;
        h = s + 8;
    } else {
        return ferry_errf(err, errlen, -EINVAL, "URL group '%s' must start with http:// or https://",
                            s);
    }
    /* host */
    if (*h == '[') {
        struct in6_addr a6;
        q = strchr(h, ']');
        if (!q || (size_t)(q - h - 1) >= sizeof(hbuf))
            return ferry_errf(err, errlen, -EINVAL, "URL group '%s': unterminated IPv6 literal", s);
        memcpy(hbuf, h + 1, (size_t)(q - h - 1));
        hbuf[q - h - 1] = '\0';
        if (inet_pton(AF_INET6, hbuf, &a6) != 1)
            return ferry_errf(err, errlen, -EINVAL, "URL group '%s': '%s' is not an IPv6 address", s,
                                hbuf);
        inet_ntop(AF_INET6, &a6, p.host, sizeof(p.host));
        p.host_kind = URLGROUP_HOST_IPV6;
        q++;
    } else {
        q = h + strcspn(h, ":/");
        hlen = (size_t)(q - h);
        if (hlen == 0)
            return ferry_errf(err, errlen, -EINVAL, "URL group '%s' has no host (use + for all "
                                "addresses)", s);
        if (hlen >= sizeof(hbuf))
            return ferry_errf(err, errlen, -EINVAL, "URL group '%s': host name too long", s);
        memcpy(hbuf, h, hlen);
        hbuf[hlen] = '\0';
        if (strcmp(hbuf, "+") == 0) {
            p.host_kind = URLGROUP_HOST_STRONG;
        } else if (strcmp(hbuf, "*") == 0) {
            p.host_kind = URLGROUP_HOST_WEAK;
        } else {
            struct in_addr a4;
            if (inet_pton(AF_INET, hbuf, &a4) == 1) {
                p.host_kind = URLGROUP_HOST_IPV4;
            } else if (urlgroup_host_name_check(hbuf, hlen) == 0 &&
                       hbuf[strspn(hbuf, "0123456789.")] != '\0') {
                p.host_kind = URLGROUP_HOST_NAME;
            } else {
                return ferry_errf(err, errlen, -EINVAL, "URL group '%s': '%s' is not +, *, an IP "
                                    "address or a DNS name", s, hbuf);
            }
        }
        for (size_t i = 0; i < hlen; i++)
            p.host[i] = (char)tolower((unsigned char)hbuf[i]);
        p.host[hlen] = '\0';
    }
    /* port */
    if (*q == ':') {
        char *end;
        long port;
        q++;
        if (!isdigit((unsigned char)*q))
            return ferry_errf(err, errlen, -EINVAL, "URL group '%s': the port is missing", s);
        errno = 0;
        port = strtol(q, &end, 10);
        if (errno || port < 1 || port > 65535 || end - q > 5)
            return ferry_errf(err, errlen, -EINVAL, "URL group '%s': port must be 1-65535", s);
        p.port = (uint16_t)port;
        q = end;
    } else {
        p.port = p.https ? 443 : 80;
    }
    /* exactly one path segment, optional trailing slash */
    if (*q != '/' || q[1] == '\0' || q[1] == '/')
        return ferry_errf(err, errlen, -EINVAL, "URL group '%s' needs one path segment, as in "
                            "http://+:80/images", s);
    name = q + 1;
    nlen = strcspn(name, "/");
    if (name[nlen] == '/' && name[nlen + 1] != '\0')
        return ferry_errf(err, errlen, -EINVAL, "URL group '%s' has more than one path segment; "
                            "only one level is allowed (http://+:80/images)", s);
    if (nlen > URLGROUP_NAME_MAX)
        return ferry_errf(err, errlen, -EINVAL, "URL group '%s': the path segment is too long", s);
    for (size_t i = 0; i < nlen; i++)
        if (!urlgroup_seg_char(name[i]))
            return ferry_errf(err, errlen, -EINVAL, "URL group '%s': the path segment may only hold "
                                "[A-Za-z0-9._~-]", s);
    if ((nlen == 1 && name[0] == '.') || (nlen == 2 && name[0] == '.' && name[1] == '.'))
        return ferry_errf(err, errlen, -EINVAL, "URL group '%s': '.' and '..' are not names", s);
    memcpy(p.name, name, nlen);
    p.name[nlen] = '\0';
    snprintf(p.canonical, sizeof(p.canonical), "%s://%s%s%s:%u/%s", p.https ? "https" : "http",
             p.host_kind == URLGROUP_HOST_IPV6 ? "[" : "", p.host,
             p.host_kind == URLGROUP_HOST_IPV6 ? "]" : "", p.port, p.name);
    *ret = p;
    return 0;
}

int
urlgroup_suffix_check(const char *s, const char **ret_suffix, char *err, size_t errlen)
{
    size_t len;

    if (!s)
        return ferry_errf(err, errlen, -EINVAL, "the URL suffix is missing");
    if (*s == '/')
        s++;
    len = strlen(s);
    if (len == 0)
        return ferry_errf(err, errlen, -EINVAL, "the URL suffix is empty");
    if (len > URLGROUP_SUFFIX_MAX)
        return ferry_errf(err, errlen, -EINVAL, "the URL suffix is longer than %d bytes",
                            URLGROUP_SUFFIX_MAX);
    if (strchr(s, '/'))
        return ferry_errf(err, errlen, -EINVAL, "URL suffix '%s' contains '/': only one name below "
                            "the group is allowed", s);
    if (strstr(s, ".."))
        return ferry_errf(err, errlen, -EINVAL, "URL suffix '%s' contains '..'", s);
    if (strcmp(s, ".") == 0)
        return ferry_errf(err, errlen, -EINVAL, "URL suffix '.' is not a name");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return ferry_errf(err, errlen, -EINVAL, "the URL suffix contains control characters");
    *ret_suffix = s;
    return 0;
}

int
urlgroup_path_encode(const char *seg, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *c = (const unsigned char *)seg; *c; c++) {
        if (urlgroup_seg_char((char)*c)) {
            if (o + 1 >= outlen)
                return -ENOSPC;
            out[o++] = (char)*c;
        } else {
            if (o + 3 >= outlen)
                return -ENOSPC;
            out[o++] = '%';
            out[o++] = hex[*c >> 4];
            out[o++] = hex[*c & 15];
        }
    }
    if (o >= outlen)
        return -ENOSPC;
    out[o] = '\0';
    return 0;
}
