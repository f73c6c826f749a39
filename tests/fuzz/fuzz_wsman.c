/*
 * tests/fuzz/fuzz_wsman.c - libFuzzer target: one input = one request body through the whole
 * WS-Man dispatcher (hardened XML, envelope, faults, enumeration, the three classes) as an
 * administrator, on the in-memory fake engine of the unit suites. Every input must produce
 * a reply (a response or a fault with a SOAP body), never a crash or a leak. The engine is
 * reset every 512 inputs so jobs and contexts created by earlier inputs stay bounded.
 * Seeds: envelopes captured from wsl and pywinrm (tests/fuzz/corpus/wsman/).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_engine.h"
#include "wsman.h"
#include "wsman_config.h"

static struct ferry_config cfg;
static struct wsman_config wcfg;
static struct fake_engine *fe;
static struct wsman_ctx *ctx;
static unsigned runs;

static void
fuzz_reset(void)
{
    ctx = wsman_ctx_free(ctx);
    fake_engine_free(fe);
    fe = fake_engine_new();
    if (!fe || wsman_ctx_new(&cfg, &wcfg, &fake_engine_ops, fake_engine_jobs(fe),
                             fake_engine_server(fe), fake_engine_users(fe), &ctx) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wsman_caller admin = {"admin", FERRY_ROLE_ADMIN, true};
    struct wsman_reply reply = {0};

    if (!ctx || runs++ % 512 == 0) {
        wcfg.max_envelope = 512000;
        wcfg.enum_ttl = 240;
        wcfg.max_enums = 64;
        wcfg.anonymous_identify = true;
        fuzz_reset();
    }
    if (wsman_dispatch(ctx, (const char *)data, size, &admin, &reply) == 0) {
        if (!reply.body || reply.len == 0 || (reply.http_status != 200 &&
                                              reply.http_status != 400 &&
                                              reply.http_status != 500))
            abort();
    }
    wsman_reply_done(&reply);
    return 0;
}
