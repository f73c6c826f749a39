/*
 * metalink.c - Metalink 4 rendering with libxml2's xmlTextWriter (never by hand, so names
 * and URLs are always escaped correctly).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "ferry/common.h"
#include "metalink.h"

#define W(call)                                                                               \
    do {                                                                                      \
        if ((call) < 0)                                                                       \
            goto error;                                                                       \
    } while (0)

static int
metalink_write_pieces(xmlTextWriterPtr w, const struct manifest *m, bool sha256)
{
    char hex[65], len[32];

    snprintf(len, sizeof(len), "%" PRIu64, m->chunk_size);
    W(xmlTextWriterStartElement(w, BAD_CAST "pieces"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST(sha256 ? "sha-256" : "xxh3-128")));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "length", BAD_CAST len));
    for (uint64_t i = 0; i < m->nchunks; i++) {
        const struct manifest_chunk *c = &m->chunks[i];
        W(xmlTextWriterStartElement(w, BAD_CAST "hash"));
        if (!sha256 && c->zero)
            W(xmlTextWriterWriteAttributeNS(w, BAD_CAST "ferry", BAD_CAST "zero", NULL,
                                            BAD_CAST "true"));
        if (sha256)
            ferry_hex_encode(c->sha256, 32, hex);
        else
            ferry_hex_encode(c->xxh, 16, hex);
        W(xmlTextWriterWriteString(w, BAD_CAST hex));
        W(xmlTextWriterEndElement(w));
    }
    W(xmlTextWriterEndElement(w));
    return 0;
error:
    return -EIO;
}

int
metalink_render(const struct manifest *m, const char *name, const char *url, char **ret_xml,
                size_t *ret_len)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = NULL;
    char num[32], etag[MANIFEST_ETAG_MAX], hex[65];
    char *out;
    size_t len;
    int r = -EIO;

    if (!buf)
        return -ENOMEM;
    w = xmlNewTextWriterMemory(buf, 0);
    if (!w) {
        xmlBufferFree(buf);
        return -ENOMEM;
    }
    W(xmlTextWriterSetIndent(w, 1));
    W(xmlTextWriterSetIndentString(w, BAD_CAST "  "));
    W(xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL));
    W(xmlTextWriterStartElementNS(w, NULL, BAD_CAST "metalink", BAD_CAST METALINK_NS));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns:ferry", BAD_CAST METALINK_FERRY_NS));
    W(xmlTextWriterWriteElement(w, BAD_CAST "generator", BAD_CAST "ferry/" FERRY_VERSION));
    W(xmlTextWriterStartElement(w, BAD_CAST "file"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST name));
    snprintf(num, sizeof(num), "%" PRIu64, m->id.size);
    W(xmlTextWriterWriteElement(w, BAD_CAST "size", BAD_CAST num));
    manifest_identity_etag(&m->id, etag);
    W(xmlTextWriterWriteElementNS(w, BAD_CAST "ferry", BAD_CAST "etag", NULL, BAD_CAST etag));
    if (m->has_sha256) {
        ferry_hex_encode(m->file_sha256, 32, hex);
        W(xmlTextWriterStartElement(w, BAD_CAST "hash"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "sha-256"));
        W(xmlTextWriterWriteString(w, BAD_CAST hex));
        W(xmlTextWriterEndElement(w));
    }
    if (m->nchunks > 0) {
        if (m->has_sha256 && metalink_write_pieces(w, m, true) < 0)
            goto error;
        if (metalink_write_pieces(w, m, false) < 0)
            goto error;
    }
    W(xmlTextWriterStartElement(w, BAD_CAST "url"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "priority", BAD_CAST "1"));
    W(xmlTextWriterWriteString(w, BAD_CAST url));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndDocument(w)); /* closes file and metalink */
    xmlFreeTextWriter(w);
    w = NULL;
    len = (size_t)xmlBufferLength(buf);
    out = malloc(len + 1);
    if (!out) {
        r = -ENOMEM;
        goto error;
    }
    memcpy(out, xmlBufferContent(buf), len);
    out[len] = '\0';
    xmlBufferFree(buf);
    *ret_xml = out;
    *ret_len = len;
    return 0;
error:
    if (w)
        xmlFreeTextWriter(w);
    xmlBufferFree(buf);
    return r;
}
