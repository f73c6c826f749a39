/*
 * engine/core/config-internal.h - the option table behind ferry/config.h, exposed to tests
 * and fuzz targets (STYLE: internals through an -internal.h header).
 */
#ifndef FERRY_CONFIG_INTERNAL_H
#define FERRY_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/config.h"

/* The table, in --help order, and its length. */
extern const struct ferry_config_option config_options[];
extern const size_t config_noptions;

/* The entry of the core table called `name`, or NULL (sections are not searched). */
const struct ferry_config_option *config_option_find(const char *name);

/* Parse a config file held in memory (what ferry_config_load_file does after reading the
 * file). `fname` prefixes errors as "FNAME:LINE: ...". Values set before the failing line
 * stay set. 0 or -EINVAL with err filled. */
int config_load_buffer(struct ferry_config *cfg, const char *fname, const char *buf, size_t len,
                       char *err, size_t errlen);

/* Parse a byte count ("4MiB", "16K", "512000"); -EINVAL or -ERANGE on overflow. */
int config_parse_bytes(const char *s, uint64_t *ret);

/* Largest config file accepted. */
#define CONFIG_FILE_MAX (1024 * 1024)

#endif
