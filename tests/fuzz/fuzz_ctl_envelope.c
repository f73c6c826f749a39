/*
 * tests/fuzz/fuzz_ctl_envelope.c - libFuzzer target for ferryctl's response parser
 * (control/cli/ctl_envelope.c): any bytes a WS-Man endpoint sends. A parsed response is
 * also formatted (fault line), written as JSON, and its instance sent back through the
 * Put builder, the way `ferryctl job set` uses it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl_envelope.h"
#include "ctl_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    struct ctl_response *resp = NULL;
    struct ctl_target t = {.to = "http://127.0.0.1:5985/wsman", .resource_uri = "urn:fuzz"};
    struct ctl_json j;
    char line[512], *xml = NULL;
    size_t len;
    xmlNode *inst;

    if (!sink)
        sink = fopen("/dev/null", "w");
    if (ctl_envelope_parse((const char *)data, size, &resp) < 0)
        return 0;
    ctl_fault_format(&resp->fault, line, sizeof(line));
    ctl_json_init(&j, sink);
    for (size_t i = 0; i < resp->ninstances; i++)
        ctl_json_instance(&j, resp->instances[i]);
    inst = ctl_response_instance_node(resp);
    if (inst && ctl_envelope_set_property(inst, "Priority", "1") == 0 &&
        ctl_envelope_put(&t, "uuid:fuzz", inst, &xml, &len) == 0)
        free(xml);
    ctl_response_free(resp);
    return 0;
}
