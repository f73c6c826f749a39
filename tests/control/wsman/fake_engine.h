/*
 * tests/control/wsman/fake_engine.h - an in-memory engine behind the WS-Man call table, for
 * the unit suites and the fuzzer: jobs and URL groups with the engine's documented status
 * kinds, and two users (admin/admin-pw, bob/bob-pw as a plain user).
 */
#ifndef FERRY_TEST_FAKE_ENGINE_H
#define FERRY_TEST_FAKE_ENGINE_H

#include "wsman.h"

extern const struct wsman_engine_ops fake_engine_ops;

struct fake_engine;
struct fake_engine *fake_engine_new(void);
void fake_engine_free(struct fake_engine *fe);
struct ferry_jobs *fake_engine_jobs(struct fake_engine *fe);
struct ferry_server *fake_engine_server(struct fake_engine *fe);
struct ferry_users *fake_engine_users(struct fake_engine *fe);
/* Force a job's state (e.g. TRANSFERRED or ERROR with an error). */
void fake_engine_set_state(struct fake_engine *fe, const char *job_id, enum ferry_job_state s);
/* Last values recorded by calls (credentials never echoed back through Get). */
const char *fake_engine_last(struct fake_engine *fe, const char *what);
size_t fake_engine_njobs(struct fake_engine *fe);
/* How often users_verify ran (password checks that were not answered from the cache). */
unsigned fake_engine_verify_calls(void);

#endif
