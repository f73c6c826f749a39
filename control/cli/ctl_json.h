/*
 * control/cli/ctl_json.h - the small JSON writer behind `ferryctl --json`: objects, arrays,
 * strings escaped per RFC 8259 (control characters as \u00XX; invalid UTF-8 replaced by
 * U+FFFD so the output always parses), numbers, booleans, null.
 */
#ifndef FERRY_CTL_JSON_H
#define FERRY_CTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl_envelope.h"

#define CTL_JSON_MAX_DEPTH 32

struct ctl_json {
    FILE *f;
    unsigned depth;
    bool first[CTL_JSON_MAX_DEPTH]; /* nothing written yet at this level */
    bool after_key;
};

/* Start a document written to f (borrowed; the caller keeps and closes it). */
void ctl_json_init(struct ctl_json *j, FILE *f);
/* Containers; the writer adds the commas. Nesting deeper than CTL_JSON_MAX_DEPTH keeps
 * writing valid JSON but no longer tracks commas below that depth. No failure: output
 * errors show in ferror(f). */
void ctl_json_begin_object(struct ctl_json *j);
void ctl_json_end_object(struct ctl_json *j);
void ctl_json_begin_array(struct ctl_json *j);
void ctl_json_end_array(struct ctl_json *j);
/* The key of the next member of an object (escaped like every string). */
void ctl_json_key(struct ctl_json *j, const char *key);
/* NULL is written as null. */
void ctl_json_string(struct ctl_json *j, const char *s);
/* Scalars. A double is written with 3 decimals; NaN and infinities as null. */
void ctl_json_u64(struct ctl_json *j, uint64_t v);
void ctl_json_double(struct ctl_json *j, double v);
void ctl_json_bool(struct ctl_json *j, bool v);
void ctl_json_null(struct ctl_json *j);
/* Ends the document with a newline. */
void ctl_json_end(struct ctl_json *j);

/* An instance as an object: property -> string (or null, or a nested object); properties
 * that repeat (a job's Files) become one array under their name. */
void ctl_json_instance(struct ctl_json *j, const struct ctl_instance *inst);

/* Escape s into f as a JSON string literal with its quotes (the writer's one escaper). */
void ctl_json_write_escaped(FILE *f, const char *s);

#endif
