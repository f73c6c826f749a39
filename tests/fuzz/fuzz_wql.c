/*
 * tests/fuzz/fuzz_wql.c - the WQL filter parser of Enumerate (control/wsman/wsman_wql.c) on
 * arbitrary bytes, and every query that parses evaluated against a BitsClientJob instance.
 * Traps when a parsed query has no class name or a failed parse leaves no reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "wsman_wql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xmlNodePtr
instance(xmlDocPtr doc)
{
    static const char *const props[][2] = {
        {"JobId", "{6F9F0F2E-4B0E-4C55-9C8A-6A3B5B2E7D11}"}, {"DisplayName", "nightly"},
        {"State", "6"}, {"Priority", "2"}, {"BytesTotal", "18446744073709551615"},
        {"HasCredentials", "false"}, {"Owner", "admin"}, {"Offset", "-42"},
    };
    xmlNodePtr n = xmlNewDocNode(doc, NULL, (const xmlChar *)"BitsClientJob", NULL);

    for (size_t i = 0; n && i < sizeof(props) / sizeof(props[0]); i++)
        xmlNewTextChild(n, NULL, (const xmlChar *)props[i][0], (const xmlChar *)props[i][1]);
    if (n) {
        xmlNodePtr f = xmlNewChild(n, NULL, (const xmlChar *)"Files", NULL);
        if (f)
            xmlNewTextChild(f, NULL, (const xmlChar *)"State", (const xmlChar *)"1");
    }
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static xmlDocPtr doc;
    static xmlNodePtr inst;
    struct wsman_wql *q = NULL;
    char err[160];
    char *s;
    int r;

    if (!doc) {
        doc = xmlNewDoc((const xmlChar *)"1.0");
        inst = doc ? instance(doc) : NULL;
        if (!inst)
            return 0;
        xmlDocSetRootElement(doc, inst);
    }
    s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    r = wsman_wql_parse(s, &q, err, sizeof(err));
    if (r == 0) {
        if (!q || !wsman_wql_class(q)[0])
            __builtin_trap();
        (void)wsman_wql_match(q, inst);
        wsman_wql_free(q);
    } else if (r == -22 && err[0] == '\0') {
        __builtin_trap();
    }
    free(s);
    return 0;
}
