/*
 * control/wsman/wsman_config.h - the WS-Man endpoint's own options. They are control-plane
 * settings, so they live here and not in the engine's struct ferry_config: ferryd passes
 * wsman_config_section to ferry_config_new_with(), and the options are then set, read from
 * the config file, parsed from argv and listed by --help like every engine option.
 */
#ifndef FERRY_WSMAN_CONFIG_H
#define FERRY_WSMAN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "ferry/config.h"

struct wsman_config {
    char *listen;             /* --wsman-listen ADDR:PORT (default 127.0.0.1:5985) */
    char *tls_listen;         /* --wsman-tls-listen ADDR:PORT (default off) */
    bool anonymous_identify;  /* --anonymous-identify (default true) */
    size_t max_envelope;      /* --wsman-max-envelope: hard cap, bytes (default 512000) */
    unsigned enum_ttl;        /* --wsman-enum-ttl: enumeration context expiry, s (240) */
    unsigned max_enums;       /* --wsman-max-enums: live enumeration contexts (1024) */
    unsigned max_connections; /* --wsman-max-connections (512) */
    bool metrics;             /* --metrics: GET /metrics on the WS-Man listener */
    unsigned workers;         /* --wsman-workers: threads of the WS-Man listener (2) */
};

/* The option table of struct wsman_config. */
extern const struct ferry_config_section wsman_config_section;

/* The WS-Man options of a config made with wsman_config_section, or NULL. */
const struct wsman_config *wsman_config_get(const struct ferry_config *cfg);

#endif
