/*
 * wsman_wql.c - the WQL subset of Enumerate filters (wsman_wql.h): a tokenizer, a
 * recursive-descent parser into a small array of nodes, and the evaluation of a parsed
 * condition against an instance element as the resource classes write it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/common.h"
#include "wsman_wql.h"

#define WQL_NAME_MAX 64
#define WQL_STR_MAX 1024
#define WQL_MAX_NODES (3 * WSMAN_WQL_MAX_TERMS)

enum wql_op { OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE };
enum wql_kind { N_OR, N_AND, N_NOT, N_CMP };
enum wql_lit { L_INT, L_STR, L_BOOL };

struct wql_node {
    enum wql_kind kind;
    int a, b;                 /* operands (node indices) of OR/AND, a of NOT */
    /* N_CMP */
    char prop[WQL_NAME_MAX];
    enum wql_op op;
    enum wql_lit lit;
    bool neg;                 /* L_INT: sign and magnitude */
    uint64_t mag;
    bool bval;
    char *str;                /* L_STR */
};

struct wsman_wql {
    char cls[WQL_NAME_MAX];
    struct wql_node nodes[WQL_MAX_NODES];
    int nnodes, root;         /* root -1: no WHERE */
};

enum tok_kind { T_END, T_IDENT, T_INT, T_STR, T_OP, T_LPAREN, T_RPAREN, T_STAR, T_BAD };

struct tok {
    enum tok_kind kind;
    char text[WQL_STR_MAX];   /* T_IDENT, T_STR */
    bool neg;                 /* T_INT */
    uint64_t mag;
    enum wql_op op;           /* T_OP */
};

struct parser {
    const char *p;
    struct tok t;             /* current token */
    struct wsman_wql *q;
    int terms;
    char *err;
    size_t errlen;
};

static int wql_fail(struct parser *ps, const char *fmt, ...) FERRY_PRINTF(2, 3);

static int
wql_fail(struct parser *ps, const char *fmt, ...)
{
    va_list ap;

    if (ps->err && ps->errlen) {
        va_start(ap, fmt);
        vsnprintf(ps->err, ps->errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static bool
wql_ident_char(char c, bool first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* Digits at p into (neg, mag); false on overflow. Advances *pp past them. */
static bool
wql_digits(const char **pp, uint64_t *ret)
{
    const char *p = *pp;
    uint64_t v = 0;

    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        p++;
    }
    *pp = p;
    *ret = v;
    return true;
}

/* Read the next token into ps->t. */
static void
wql_next(struct parser *ps)
{
    const char *p = ps->p;
    struct tok *t = &ps->t;

    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    memset(t, 0, sizeof(*t));
    if (!*p) {
        t->kind = T_END;
    } else if (wql_ident_char(*p, true)) {
        size_t n = 0;
        while (wql_ident_char(*p, false)) {
            if (n + 1 >= WQL_NAME_MAX) {
                t->kind = T_BAD;
                break;
            }
            t->text[n++] = *p++;
        }
        if (t->kind != T_BAD)
            t->kind = T_IDENT;
    } else if ((*p >= '0' && *p <= '9') || (*p == '-' && p[1] >= '0' && p[1] <= '9')) {
        t->neg = *p == '-';
        if (t->neg)
            p++;
        t->kind = wql_digits(&p, &t->mag) && !wql_ident_char(*p, false) ? T_INT : T_BAD;
        if (t->mag == 0)
            t->neg = false;
    } else if (*p == '\'' || *p == '"') {
        char quote = *p++;
        size_t n = 0;
        t->kind = T_BAD;
        while (*p && *p != quote && n + 1 < WQL_STR_MAX) {
            if (*p == '\\' && (p[1] == quote || p[1] == '\\'))
                p++;
            t->text[n++] = *p++;
        }
        if (*p == quote) {
            p++;
            t->kind = T_STR;
        }
    } else if (*p == '(' || *p == ')' || *p == '*') {
        t->kind = *p == '(' ? T_LPAREN : *p == ')' ? T_RPAREN : T_STAR;
        p++;
    } else if (*p == '=') {
        t->kind = T_OP;
        t->op = OP_EQ;
        p++;
    } else if (*p == '!' && p[1] == '=') {
        t->kind = T_OP;
        t->op = OP_NE;
        p += 2;
    } else if (*p == '<' || *p == '>') {
        t->kind = T_OP;
        if (p[0] == '<' && p[1] == '>') {
            t->op = OP_NE;
            p += 2;
        } else if (p[1] == '=') {
            t->op = *p == '<' ? OP_LE : OP_GE;
            p += 2;
        } else {
            t->op = *p == '<' ? OP_LT : OP_GT;
            p++;
        }
    } else {
        t->kind = T_BAD;
    }
    ps->p = p;
}

static bool
wql_keyword(const struct parser *ps, const char *kw)
{
    return ps->t.kind == T_IDENT && strcasecmp(ps->t.text, kw) == 0;
}

static bool
wql_reserved(const char *s)
{
    static const char *const kw[] = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT",
                                     "TRUE", "FALSE", NULL};
    for (size_t i = 0; kw[i]; i++)
        if (strcasecmp(s, kw[i]) == 0)
            return true;
    return false;
}

static int
wql_node_new(struct parser *ps, enum wql_kind kind)
{
    struct wql_node *n;

    if (ps->q->nnodes >= WQL_MAX_NODES)
        return wql_fail(ps, "the filter is too long (at most %d comparisons)",
                        WSMAN_WQL_MAX_TERMS);
    n = &ps->q->nodes[ps->q->nnodes];
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->a = n->b = -1;
    return ps->q->nnodes++;
}

/* A literal token into node n; false when the token is none. */
static int
wql_literal(struct parser *ps, struct wql_node *n)
{
    if (ps->t.kind == T_INT) {
        n->lit = L_INT;
        n->neg = ps->t.neg;
        n->mag = ps->t.mag;
    } else if (ps->t.kind == T_STR) {
        n->lit = L_STR;
        n->str = strdup(ps->t.text);
        if (!n->str)
            return -ENOMEM;
    } else if (wql_keyword(ps, "TRUE") || wql_keyword(ps, "FALSE")) {
        n->lit = L_BOOL;
        n->bval = wql_keyword(ps, "TRUE");
    } else {
        return wql_fail(ps, "a value (a number, a quoted string, TRUE or FALSE) was expected");
    }
    wql_next(ps);
    return 0;
}

static int wql_or(struct parser *ps, int depth);

/* Prop op literal, or literal op Prop (the operator mirrored). */
static int
wql_compare(struct parser *ps)
{
    static const enum wql_op mirror[] = {OP_EQ, OP_NE, OP_GT, OP_LT, OP_GE, OP_LE};
    struct wql_node *n;
    int idx, r;
    bool prop_first = ps->t.kind == T_IDENT && !wql_reserved(ps->t.text);

    if (++ps->terms > WSMAN_WQL_MAX_TERMS)
        return wql_fail(ps, "the filter is too long (at most %d comparisons)",
                        WSMAN_WQL_MAX_TERMS);
    idx = wql_node_new(ps, N_CMP);
    if (idx < 0)
        return idx;
    n = &ps->q->nodes[idx];
    if (prop_first) {
        snprintf(n->prop, sizeof(n->prop), "%.63s", ps->t.text);
        wql_next(ps);
    } else {
        r = wql_literal(ps, n);
        if (r < 0)
            return r;
    }
    if (ps->t.kind != T_OP)
        return wql_fail(ps, "a comparison operator (=, <>, !=, <, >, <=, >=) was expected");
    n->op = prop_first ? ps->t.op : mirror[ps->t.op];
    wql_next(ps);
    if (prop_first)
        return (r = wql_literal(ps, n)) < 0 ? r : idx;
    if (ps->t.kind != T_IDENT || wql_reserved(ps->t.text))
        return wql_fail(ps, "a property name was expected");
    snprintf(n->prop, sizeof(n->prop), "%.63s", ps->t.text);
    wql_next(ps);
    return idx;
}

static int
wql_unary(struct parser *ps, int depth)
{
    int idx, a;

    if (depth > WSMAN_WQL_MAX_DEPTH)
        return wql_fail(ps, "the filter nests deeper than %d", WSMAN_WQL_MAX_DEPTH);
    if (wql_keyword(ps, "NOT")) {
        wql_next(ps);
        a = wql_unary(ps, depth + 1);
        if (a < 0)
            return a;
        idx = wql_node_new(ps, N_NOT);
        if (idx >= 0)
            ps->q->nodes[idx].a = a;
        return idx;
    }
    if (ps->t.kind == T_LPAREN) {
        wql_next(ps);
        a = wql_or(ps, depth + 1);
        if (a < 0)
            return a;
        if (ps->t.kind != T_RPAREN)
            return wql_fail(ps, "')' was expected");
        wql_next(ps);
        return a;
    }
    return wql_compare(ps);
}

/* A chain of ANDs of unary terms (or, when `or`, of ORs of such chains: AND binds
 * tighter), left-associative. */
static int
wql_binary(struct parser *ps, int depth, bool or)
{
    int a = or ? wql_binary(ps, depth, false) : wql_unary(ps, depth);

    while (a >= 0 && wql_keyword(ps, or ? "OR" : "AND")) {
        int b, idx;
        wql_next(ps);
        b = or ? wql_binary(ps, depth, false) : wql_unary(ps, depth);
        if (b < 0)
            return b;
        idx = wql_node_new(ps, or ? N_OR : N_AND);
        if (idx < 0)
            return idx;
        ps->q->nodes[idx].a = a;
        ps->q->nodes[idx].b = b;
        a = idx;
    }
    return a;
}

static int
wql_or(struct parser *ps, int depth)
{
    return wql_binary(ps, depth, true);
}

/* Parse a query (wsman_wql.h). */
int
wsman_wql_parse(const char *text, struct wsman_wql **ret, char *err, size_t errlen)
{
    struct parser ps = {.p = text, .err = err, .errlen = errlen};
    int r = -EINVAL;

    if (err && errlen)
        err[0] = '\0';
    if (!text || strlen(text) > WSMAN_WQL_MAX_TEXT)
        return wql_fail(&ps, "the filter is empty or longer than %d bytes", WSMAN_WQL_MAX_TEXT);
    ps.q = calloc(1, sizeof(*ps.q));
    if (!ps.q)
        return -ENOMEM;
    ps.q->root = -1;
    wql_next(&ps);
    if (!wql_keyword(&ps, "SELECT")) {
        r = wql_fail(&ps, "the filter must start with SELECT");
        goto error;
    }
    wql_next(&ps);
    if (ps.t.kind != T_STAR) {
        r = wql_fail(&ps, "only SELECT * is supported");
        goto error;
    }
    wql_next(&ps);
    if (!wql_keyword(&ps, "FROM")) {
        r = wql_fail(&ps, "FROM was expected after SELECT *");
        goto error;
    }
    wql_next(&ps);
    if (ps.t.kind != T_IDENT || wql_reserved(ps.t.text)) {
        r = wql_fail(&ps, "a class name was expected after FROM");
        goto error;
    }
    snprintf(ps.q->cls, sizeof(ps.q->cls), "%.63s", ps.t.text);
    wql_next(&ps);
    if (wql_keyword(&ps, "WHERE")) {
        wql_next(&ps);
        r = wql_or(&ps, 0);
        if (r < 0)
            goto error;
        ps.q->root = r;
    }
    if (ps.t.kind != T_END) {
        r = wql_fail(&ps, "unexpected text near '%.32s'", ps.p);
        goto error;
    }
    *ret = ps.q;
    return 0;
error:
    if (r == -ENOMEM && err && errlen)
        snprintf(err, errlen, "out of memory");
    wsman_wql_free(ps.q);
    return r;
}

/* NULL-safe; returns NULL. */
struct wsman_wql *
wsman_wql_free(struct wsman_wql *q)
{
    if (q) {
        for (int i = 0; i < q->nnodes; i++)
            free(q->nodes[i].str);
        free(q);
    }
    return NULL;
}

const char *
wsman_wql_class(const struct wsman_wql *q)
{
    return q->cls;
}

/* The text of the instance's first leaf child named prop (case-insensitive), or NULL. */
static xmlChar *
wql_value(xmlNodePtr inst, const char *prop)
{
    for (xmlNodePtr c = inst ? inst->children : NULL; c; c = c->next) {
        bool leaf = true;

        if (c->type != XML_ELEMENT_NODE || !c->name ||
            strcasecmp((const char *)c->name, prop) != 0)
            continue;
        for (xmlNodePtr g = c->children; g; g = g->next)
            if (g->type == XML_ELEMENT_NODE)
                leaf = false;
        if (leaf)
            return xmlNodeGetContent(c);
    }
    return NULL;
}

static bool
wql_order(enum wql_op op, int c)
{
    switch (op) {
    case OP_EQ:
        return c == 0;
    case OP_NE:
        return c != 0;
    case OP_LT:
        return c < 0;
    case OP_GT:
        return c > 0;
    case OP_LE:
        return c <= 0;
    case OP_GE:
        return c >= 0;
    }
    return false;
}

static bool
wql_cmp_eval(const struct wql_node *n, xmlNodePtr inst)
{
    xmlChar *v = wql_value(inst, n->prop);
    const char *s = (const char *)v;
    bool res = false;

    if (!v)
        return false;
    if (n->lit == L_INT) {
        const char *p = s;
        bool neg = *p == '-';
        uint64_t mag;
        int c;

        if (neg)
            p++;
        if (*p >= '0' && *p <= '9' && wql_digits(&p, &mag) && *p == '\0') {
            if (mag == 0)
                neg = false;
            if (neg != n->neg)
                c = neg ? -1 : 1;
            else
                c = mag == n->mag ? 0 : (mag < n->mag) != neg ? -1 : 1;
            res = wql_order(n->op, c);
        }
    } else if (n->lit == L_BOOL) {
        if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
            bool b = strcasecmp(s, "true") == 0;
            res = n->op == OP_EQ ? b == n->bval : n->op == OP_NE ? b != n->bval : false;
        }
    } else {
        int c = strcasecmp(s, n->str);
        res = wql_order(n->op, c < 0 ? -1 : c > 0);
    }
    xmlFree(v);
    return res;
}

static bool
wql_eval(const struct wsman_wql *q, int i, xmlNodePtr inst)
{
    const struct wql_node *n = &q->nodes[i];

    switch (n->kind) {
    case N_OR:
        return wql_eval(q, n->a, inst) || wql_eval(q, n->b, inst);
    case N_AND:
        return wql_eval(q, n->a, inst) && wql_eval(q, n->b, inst);
    case N_NOT:
        return !wql_eval(q, n->a, inst);
    case N_CMP:
        return wql_cmp_eval(n, inst);
    }
    return false;
}

/* Match an instance (wsman_wql.h). */
bool
wsman_wql_match(const struct wsman_wql *q, xmlNodePtr instance)
{
    return q->root < 0 || wql_eval(q, q->root, instance);
}
