/*
 * engine/core/config-internal.h - the option table behind ferry/config.h, exposed to tests
 * and fuzz targets (STYLE: internals through an -internal.h header).
 */
#ifndef FERRY_CONFIG_INTERNAL_H
#define FERRY_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/config.h"

enum config_type {
    CONFIG_STRING,    /* char *; "" unsets */
    CONFIG_CHOICE,    /* char *, one of the '|'-separated words in `choices` */
    CONFIG_BOOL,      /* bool: true/false, yes/no, on/off, 1/0 */
    CONFIG_UNSIGNED,  /* unsigned, decimal, within [min, max] */
    CONFIG_SIZE,      /* size_t byte count with K/M/G/T or KiB/MiB/GiB/TiB, within [min, max] */
    CONFIG_BYTES,     /* uint64_t byte count, same syntax as CONFIG_SIZE */
    CONFIG_STRV,      /* struct ferry_strv: each occurrence appends */
    CONFIG_URL_GROUP, /* "url-group = PREFIX": appends to cfg->urls (source NULL) */
    CONFIG_URL,       /* "url = FULLURL SOURCE [RULE]": appends to cfg->urls */
    CONFIG_FILE,      /* --config: command line only, read before the other flags */
};

struct config_option {
    const char *name;    /* long flag without "--", also the config file key */
    const char *arg;     /* argument name shown by --help (NULL for bools) */
    enum config_type type;
    const char *def;     /* default, parsed like a user value; NULL = unset/empty */
    const char *help;    /* one line */
    size_t offset;       /* field in struct ferry_config */
    uint64_t min, max;   /* range of numeric types */
    const char *choices; /* CONFIG_CHOICE: "a|b|c" */
};

/* The table, in --help order, and its length. */
extern const struct config_option config_options[];
extern const size_t config_noptions;

/* The entry called `name`, or NULL. */
const struct config_option *config_option_find(const char *name);

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
