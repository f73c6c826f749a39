/*
 * metalink.c - client-side parsing of the Metalink 4 manifest (RFC 5854) a server links
 * with `Link: <...>; rel=describedby` (RFC 6249). Taken from the first <file>:
 *   <size>, <hash type="sha-256">, <url> mirrors,
 *   <pieces type="xxh3-128" length="N"> with one <hash> (32 hex digits) per chunk,
 *   all-zero chunks marked <hash ferry:zero="true"> (or simply carrying the XXH3-128 of
 *   that many zero bytes), and <ferry:etag> (namespace urn:ferry:manifest:1), the ETag of
 *   the version described. Format: docs/internals/manifest.md (server side).
 * Hardened libxml2 use: documents with a DTD or entity declaration are refused before
 * parsing, XML_PARSE_NONET, no entity substitution, no DTD loading, a size cap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "client/metalink.h"
#include "client/verify.h"

#define METALINK_NS "urn:ietf:params:xml:ns:metalink"
#define METALINK_FERRY_NS "urn:ferry:manifest:1"

static bool
metalink_is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static bool
metalink_ns_ok(const xmlNode *n)
{
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, METALINK_NS) == 0;
}

/* Element text with surrounding whitespace trimmed, malloc()ed. */
static char *
metalink_text(const xmlNode *n)
{
    xmlChar *c = xmlNodeGetContent(n);
    char *s, *b, *e;

    if (!c)
        return NULL;
    b = (char *)c;
    while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
        b++;
    e = b + strlen(b);
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
    s = strndup(b, (size_t)(e - b));
    xmlFree(c);
    return s;
}

static int
metalink_u64(const char *s, uint64_t *ret)
{
    char *end;
    unsigned long long v;

    if (!s || !*s || *s == '-' || *s == '+')
        return -EBADMSG;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -EBADMSG;
    *ret = v;
    return 0;
}

static bool
metalink_attr_true(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    bool t;

    if (!v)
        return false;
    t = strcmp((const char *)v, "true") == 0 || strcmp((const char *)v, "1") == 0;
    xmlFree(v);
    return t;
}

/* Pieces list: the hashes, counted and bounded by the file size. */
static int
metalink_pieces(struct metalink *ml, const xmlNode *pieces)
{
    xmlChar *type = xmlGetProp(pieces, (const xmlChar *)"type");
    xmlChar *length = xmlGetProp(pieces, (const xmlChar *)"length");
    uint64_t plen = 0, count = 0, max;
    int r = 0;

    if (!type || strcasecmp((const char *)type, "xxh3-128") != 0) {
        r = 1; /* another algorithm (e.g. sha-256 pieces): not ours */
        goto done;
    }
    if (!length || metalink_u64((const char *)length, &plen) < 0 || plen == 0 ||
        ml->size == FERRY_SIZE_UNKNOWN) {
        r = -EBADMSG;
        goto done;
    }
    max = ml->size == 0 ? 0 : (ml->size + plen - 1) / plen;
    for (const xmlNode *h = pieces->children; h; h = h->next)
        if (metalink_is(h, "hash"))
            count++;
    if (count != max || ml->pieces) {
        r = -EBADMSG;
        goto done;
    }
    if (count) {
        ml->pieces = calloc(count, 16);
        ml->zero = calloc(count, 1);
        if (!ml->pieces || !ml->zero) {
            r = -ENOMEM;
            goto done;
        }
    }
    ml->npieces = count;
    ml->piece_length = plen;
    count = 0;
    for (const xmlNode *h = pieces->children; h; h = h->next) {
        char *hex;
        if (!metalink_is(h, "hash"))
            continue;
        hex = metalink_text(h);
        if (metalink_attr_true(h, "zero")) {
            /* the digest (of zeros) is optional for a zero chunk */
            ml->zero[count] = 1;
            if (hex && verify_hex_decode(hex, ml->pieces[count], 16) < 0)
                memset(ml->pieces[count], 0, 16);
            free(hex);
            count++;
            continue;
        }
        if (!hex || verify_hex_decode(hex, ml->pieces[count], 16) < 0) {
            free(hex);
            r = -EBADMSG;
            goto done;
        }
        free(hex);
        count++;
    }
done:
    xmlFree(type);
    xmlFree(length);
    return r;
}

static int
metalink_file(struct metalink *ml, const xmlNode *file)
{
    int r;

    /* size first: pieces are checked against it */
    for (const xmlNode *n = file->children; n; n = n->next) {
        if (metalink_is(n, "size") && metalink_ns_ok(n)) {
            char *t = metalink_text(n);
            r = metalink_u64(t, &ml->size);
            free(t);
            if (r < 0)
                return r;
        }
    }
    for (const xmlNode *n = file->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (metalink_is(n, "pieces") && metalink_ns_ok(n)) {
            r = metalink_pieces(ml, n);
            if (r < 0)
                return r;
        } else if (metalink_is(n, "hash") && metalink_ns_ok(n)) {
            xmlChar *type = xmlGetProp(n, (const xmlChar *)"type");
            if (type && strcasecmp((const char *)type, "sha-256") == 0) {
                char *hex = metalink_text(n);
                r = hex ? verify_hex_decode(hex, ml->sha256, 32) : -ENOMEM;
                free(hex);
                if (r < 0) {
                    xmlFree(type);
                    return -EBADMSG;
                }
                ml->has_sha256 = true;
            }
            xmlFree(type);
        } else if (metalink_is(n, "url") && metalink_ns_ok(n)) {
            char **nv;
            char *u;
            if (ml->nurls >= METALINK_MAX_URLS)
                continue;
            u = metalink_text(n);
            if (!u)
                return -ENOMEM;
            nv = realloc(ml->urls, (ml->nurls + 1) * sizeof(*nv));
            if (!nv) {
                free(u);
                return -ENOMEM;
            }
            ml->urls = nv;
            ml->urls[ml->nurls++] = u;
        } else if (metalink_is(n, "etag") && n->ns && n->ns->href &&
                   strcmp((const char *)n->ns->href, METALINK_FERRY_NS) == 0 && !ml->etag) {
            ml->etag = metalink_text(n);
            if (!ml->etag)
                return -ENOMEM;
        }
    }
    /* a digest equal to the XXH3-128 of zeros marks a zero chunk too */
    for (uint64_t i = 0; i < ml->npieces; i++) {
        uint64_t len = i + 1 == ml->npieces ? ml->size - i * ml->piece_length
                                            : ml->piece_length;
        if (!ml->zero[i] && verify_is_zero_digest(ml->pieces[i], len))
            ml->zero[i] = 1;
    }
    return 0;
}

/* True when buf holds "<!" followed by DOCTYPE or ENTITY (case-insensitive). */
static bool
metalink_has_dtd(const char *buf, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++) {
        if (buf[i] != '<' || buf[i + 1] != '!')
            continue;
        if ((len - i - 2 >= 7 && strncasecmp(buf + i + 2, "DOCTYPE", 7) == 0) ||
            (len - i - 2 >= 6 && strncasecmp(buf + i + 2, "ENTITY", 6) == 0))
            return true;
    }
    return false;
}

/*
 * Parse a Metalink 4 document. On success *ret_ml is owned by the caller (metalink_free).
 * -E2BIG over METALINK_MAX_BYTES, -EBADMSG for anything malformed or refused (DTDs,
 * inconsistent pieces), -ENOMEM.
 */
int
metalink_parse(const char *buf, size_t len, struct metalink **ret_ml)
{
    struct metalink *ml = NULL;
    xmlDoc *doc = NULL;
    xmlNode *root;
    int r = -EBADMSG;

    if (len > METALINK_MAX_BYTES)
        return -E2BIG;
    if (len == 0 || len > INT32_MAX || metalink_has_dtd(buf, len))
        return -EBADMSG;
    doc = xmlReadMemory(buf, (int)len, "metalink.meta4", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || doc->intSubset || doc->extSubset)
        goto error;
    root = xmlDocGetRootElement(doc);
    if (!root || !metalink_is(root, "metalink") || !metalink_ns_ok(root))
        goto error;
    ml = calloc(1, sizeof(*ml));
    if (!ml) {
        r = -ENOMEM;
        goto error;
    }
    ml->size = FERRY_SIZE_UNKNOWN;
    {
        xmlNode *file = NULL;
        for (xmlNode *n = root->children; n; n = n->next) {
            if (metalink_is(n, "file") && metalink_ns_ok(n)) {
                if (file) {
                    r = -EBADMSG; /* exactly one file per manifest */
                    goto error;
                }
                file = n;
            }
        }
        if (!file)
            goto error;
        r = metalink_file(ml, file);
        if (r < 0)
            goto error;
    }
    if (ml->size == FERRY_SIZE_UNKNOWN) {
        r = -EBADMSG;
        goto error;
    }
    xmlFreeDoc(doc);
    *ret_ml = ml;
    return 0;
error:
    xmlFreeDoc(doc);
    metalink_free(ml);
    return r;
}

/* NULL-safe; returns NULL. */
struct metalink *
metalink_free(struct metalink *ml)
{
    if (!ml)
        return NULL;
    free(ml->pieces);
    free(ml->zero);
    for (size_t i = 0; i < ml->nurls; i++)
        free(ml->urls[i]);
    free(ml->urls);
    free(ml->etag);
    free(ml);
    return NULL;
}
