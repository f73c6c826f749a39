/*
 * control/cli/ctl_envelope.h - ferryctl's WS-Management envelopes: every request is built
 * here with libxml2's tree API and every response is parsed here by namespace URI (never by
 * prefix). The rest of ferryctl sees name/value lists, never XML text.
 */
#ifndef FERRY_CTL_ENVELOPE_H
#define FERRY_CTL_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

/* A selector or a method parameter. */
struct ctl_pair {
    const char *name;
    const char *value;
};

/* Where and how a request goes: the wsa:To, the resource and its instance selectors. */
struct ctl_target {
    const char *to;            /* endpoint URL for wsa:To */
    const char *resource_uri;  /* wsman:ResourceURI */
    const struct ctl_pair *selectors;
    size_t nselectors;
    unsigned timeout_s;        /* wsman:OperationTimeout, 0 = omitted */
    size_t max_envelope;       /* wsman:MaxEnvelopeSize, 0 = omitted */
};

/* One property of an instance: text value (NULL for xsi:nil) or, when the element has
 * element children (an embedded object such as one of a job's Files), a nested instance. */
struct ctl_prop {
    char *name;                  /* local name */
    char *value;                 /* UTF-8 text, NULL when nil or nested */
    struct ctl_instance *nested;
};

/* An instance (or any element read as a property list, e.g. a method's _OUTPUT). */
struct ctl_instance {
    char *class_name;  /* local name of the element */
    struct ctl_prop *props;
    size_t nprops;
};

/* A parsed response. Exactly one of the parts is filled, according to `kind`. */
enum ctl_response_kind {
    CTL_RESPONSE_FAULT = 0,
    CTL_RESPONSE_IDENTIFY,   /* instances[0] = IdentifyResponse children */
    CTL_RESPONSE_INSTANCE,   /* Get/Put: instances[0] (Put may have none) */
    CTL_RESPONSE_ITEMS,      /* Enumerate/Pull: instances[], context, end_of_sequence */
    CTL_RESPONSE_OUTPUT,     /* Invoke: instances[0] = _OUTPUT, return_value */
    CTL_RESPONSE_EMPTY,      /* Release, or a Put with no body */
};

struct ctl_fault {
    char *code;     /* e.g. "s:Sender" (canonical prefix) */
    char *subcode;  /* e.g. "w:InvalidSelectors" */
    char *reason;   /* s:Reason/s:Text */
    char *detail;   /* FaultDetail name (after .../faultDetail/), or a WSManFault message */
};

struct ctl_response {
    enum ctl_response_kind kind;
    xmlDoc *doc;                  /* the whole parsed response (owned) */
    char *action;                 /* wsa:Action, NULL if absent */
    char *relates_to;             /* wsa:RelatesTo, NULL if absent */
    struct ctl_fault fault;       /* kind == FAULT */
    struct ctl_instance **instances;
    size_t ninstances;
    char *context;                /* enumeration context, NULL when absent or empty */
    bool end_of_sequence;
    bool has_return_value;
    uint32_t return_value;        /* kind == OUTPUT */
};

/* Requests. Each returns 0 and a malloc'ed UTF-8 document in *ret_xml (length *ret_len),
 * or -ENOMEM / -EINVAL (missing target fields); the outputs are untouched on failure.
 * `message_id` is the wsa:MessageID to send (NULL: a fresh "uuid:..."). */
int ctl_envelope_identify(char **ret_xml, size_t *ret_len);
int ctl_envelope_get(const struct ctl_target *t, const char *message_id, char **ret_xml,
                     size_t *ret_len);
/* instance: the element to send as the whole body, typically the one a Get returned and
 * ctl_envelope_set_property() modified (copied; the caller keeps it). */
int ctl_envelope_put(const struct ctl_target *t, const char *message_id,
                     const xmlNode *instance, char **ret_xml, size_t *ret_len);
/* Optimized enumeration: items come back in the EnumerateResponse (at most max_elements,
 * 0 = not sent). */
int ctl_envelope_enumerate(const struct ctl_target *t, const char *message_id,
                           unsigned max_elements, char **ret_xml, size_t *ret_len);
int ctl_envelope_pull(const struct ctl_target *t, const char *message_id, const char *context,
                      unsigned max_elements, char **ret_xml, size_t *ret_len);
int ctl_envelope_release(const struct ctl_target *t, const char *message_id,
                         const char *context, char **ret_xml, size_t *ret_len);
/* Action = resource URI + "/" + method; body <p:METHOD_INPUT xmlns:p=RURI> with one
 * <p:NAME>VALUE</p:NAME> per parameter (a NULL value is sent as xsi:nil). */
int ctl_envelope_invoke(const struct ctl_target *t, const char *message_id,
                        const char *method, const struct ctl_pair *params, size_t nparams,
                        char **ret_xml, size_t *ret_len);

/* Parse a response body. 0 and *ret on success; -EBADMSG when it is not a SOAP 1.2
 * envelope ferryctl understands (no network access, no DTD, no entity expansion). */
int ctl_envelope_parse(const char *buf, size_t len, struct ctl_response **ret);
/* Free a response with its document and instances. NULL-safe; returns NULL. */
struct ctl_response *ctl_response_free(struct ctl_response *resp);

/* "subcode: reason (detail)" (parts that are missing are left out) into buf. */
void ctl_fault_format(const struct ctl_fault *f, char *buf, size_t len);

/* The instance element inside a Get response's body (borrowed from resp->doc), NULL when
 * there is none. */
xmlNode *ctl_response_instance_node(const struct ctl_response *resp);
/* Set property `name` (local name) of an instance element to `value`, as Set-WSManInstance
 * does: the text of the one child with that local name is replaced (xsi:nil removed); a
 * missing property is added in the instance's namespace. -EINVAL when several children
 * carry the name or the child has element children; -ENOMEM. */
int ctl_envelope_set_property(xmlNode *instance, const char *name, const char *value);

/* Lookups on a parsed instance: the property's text, NULL when absent or nil. */
const char *ctl_instance_get(const struct ctl_instance *inst, const char *name);
/* The property as an unsigned number; -ENOENT when absent, -EINVAL when not a number. */
int ctl_instance_get_u64(const struct ctl_instance *inst, const char *name, uint64_t *ret);
/* Free an instance and its nested ones. NULL-safe; returns NULL. */
struct ctl_instance *ctl_instance_free(struct ctl_instance *inst);

#endif
