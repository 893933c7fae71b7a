/* Agent configuration: see agent-config.h. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-config.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/strv.h"
#include "host/host-watch.h"
#include "state/reboot.h"
#include "web/server.h"

void agent_config_init(AgentConfig *c) {
        *c = (AgentConfig) {
                .log_level = LOG_INFO,
                .connection_limit = 256,
                .per_ip_limit = 64,
                .timeout_sec = 30,
                .request_timeout_sec = 30,
                .uevent_coalesce_msec = HOST_WATCH_COALESCE_MSEC,
                .uevent_max_delay_msec = HOST_WATCH_MAX_DELAY_MSEC,
                .consistency_sec = HOST_WATCH_CONSISTENCY_SEC,
                .events_ring_size = EVENTS_DEFAULT_RING_SIZE,
                .events_heartbeat_sec = EVENTS_DEFAULT_HEARTBEAT_SEC,
                .events_queue_bytes = EVENTS_DEFAULT_QUEUE_BYTES,
                .events_per_client = EVENTS_DEFAULT_PER_CLIENT,
                .events_max_streams = EVENTS_DEFAULT_MAX_STREAMS,
                .reboot_timeout_sec = 600,
        };
}

void agent_config_done(AgentConfig *c) {
        free(c->listen);
        free(c->root);
        free(c->pci_ids);
        free(c->state_dir);
        free(c->tokens);
        free(c->tls_certificate);
        free(c->tls_key);
        free(c->tls_client_ca);
        strv_free(c->tls_client_roles);
        free(c->uevent_socket);
        free(c->metrics_listen);
        *c = (AgentConfig) {};
}

/* Every key: where it goes, how it is parsed, and whether a reload (SIGHUP)
 * applies it; the others are read at start only. */
typedef enum KeyType { KEY_STRING, KEY_UNSIGNED, KEY_BOOL, KEY_LOG_LEVEL, KEY_REBOOT_METHOD, KEY_STRV } KeyType;

typedef struct ConfigKey {
        const char *name;
        KeyType type;
        size_t offset;
        unsigned min, max;  /* KEY_UNSIGNED */
        bool reloadable;
} ConfigKey;

#define KEY(n, t, f, ...) { n, t, offsetof(AgentConfig, f), __VA_ARGS__ }
#define RELOAD .reloadable = true

static const ConfigKey keys[] = {
        KEY("listen", KEY_STRING, listen),
        KEY("root", KEY_STRING, root),
        KEY("pci_ids", KEY_STRING, pci_ids),
        KEY("log_level", KEY_LOG_LEVEL, log_level, RELOAD),
        KEY("connection_limit", KEY_UNSIGNED, connection_limit, 1, 65536),
        KEY("per_ip_connection_limit", KEY_UNSIGNED, per_ip_limit, 1, 65536),
        KEY("connection_timeout", KEY_UNSIGNED, timeout_sec, 1, 3600),
        KEY("request_timeout", KEY_UNSIGNED, request_timeout_sec, 1, 3600),
        KEY("state_dir", KEY_STRING, state_dir),
        KEY("tokens", KEY_STRING, tokens, RELOAD),
        KEY("allow_plain_http", KEY_BOOL, allow_plain_http),
        KEY("run_tools_in_root", KEY_BOOL, run_tools_in_root),
        KEY("reboot_method", KEY_REBOOT_METHOD, reboot_method, RELOAD),
        KEY("reboot_timeout_sec", KEY_UNSIGNED, reboot_timeout_sec, 1, 86400, RELOAD),
        KEY("tls_certificate", KEY_STRING, tls_certificate),
        KEY("tls_key", KEY_STRING, tls_key),
        KEY("tls_client_ca", KEY_STRING, tls_client_ca),
        KEY("tls_client_role", KEY_STRV, tls_client_roles, RELOAD),
        KEY("metrics_listen", KEY_STRING, metrics_listen),
        KEY("uevent_socket", KEY_STRING, uevent_socket),
        KEY("uevent_coalesce_msec", KEY_UNSIGNED, uevent_coalesce_msec, 1, 10000),
        KEY("uevent_max_delay_msec", KEY_UNSIGNED, uevent_max_delay_msec, 1, 60000),
        KEY("consistency_interval_sec", KEY_UNSIGNED, consistency_sec, 0, 86400),
        KEY("events_ring_size", KEY_UNSIGNED, events_ring_size, 1, EVENT_LOG_MAX_CAPACITY),
        KEY("events_heartbeat_sec", KEY_UNSIGNED, events_heartbeat_sec, 1, 3600),
        KEY("events_queue_bytes", KEY_UNSIGNED, events_queue_bytes, 1024, 256 * 1024 * 1024),
        KEY("events_per_client", KEY_UNSIGNED, events_per_client, 1, 65536),
        KEY("events_max_streams", KEY_UNSIGNED, events_max_streams, 1, 65536),
};

#define FIELD(c, k, type) ((type *) (void *) ((char *) (c) + (k)->offset))

static const ConfigKey *key_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(keys[i].name, name))
                        return &keys[i];
        return NULL;
}

static int parse_bool(const char *value, bool *ret) {
        if (streq(value, "yes") || streq(value, "true"))
                *ret = true;
        else if (streq(value, "no") || streq(value, "false"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

int agent_config_set(AgentConfig *c, const char *name, const char *value) {
        const ConfigKey *k = key_find(name);
        char *s;
        int v;

        if (!k)
                return -EINVAL;
        switch (k->type) {
        case KEY_STRING:
                if (!(s = strdup(value)))
                        return -ENOMEM;
                free(*FIELD(c, k, char *));
                *FIELD(c, k, char *) = s;
                return 0;
        case KEY_UNSIGNED:
                if (safe_atoi(value, &v) < 0 || v < (int) k->min || (unsigned) v > k->max)
                        return -EINVAL;
                *FIELD(c, k, unsigned) = (unsigned) v;
                return 0;
        case KEY_BOOL:
                return parse_bool(value, FIELD(c, k, bool));
        case KEY_LOG_LEVEL:
                v = log_level_from_string(value);
                break;
        case KEY_REBOOT_METHOD:
                v = reboot_method_from_string(value);
                break;
        case KEY_STRV:
                return strv_extend(FIELD(c, k, char **), value);
        default:
                return -EINVAL;
        }
        if (v < 0)
                return -EINVAL;
        *FIELD(c, k, int) = v;
        return 0;
}

static bool key_equal(const ConfigKey *k, const AgentConfig *a, const AgentConfig *b) {
        switch (k->type) {
        case KEY_STRING:
                return streq_ptr(*FIELD(a, k, char *), *FIELD(b, k, char *));
        case KEY_UNSIGNED:
                return *FIELD(a, k, unsigned) == *FIELD(b, k, unsigned);
        case KEY_BOOL:
                return *FIELD(a, k, bool) == *FIELD(b, k, bool);
        case KEY_LOG_LEVEL:
        case KEY_REBOOT_METHOD:
                return *FIELD(a, k, int) == *FIELD(b, k, int);
        case KEY_STRV:
                return strv_equal(*FIELD(a, k, char **), *FIELD(b, k, char **));
        }
        return false;
}

/* The value as a log shows it; NULL when out of memory. */
static char *key_format(const ConfigKey *k, const AgentConfig *c) {
        const char *s = NULL;
        char *p = NULL;

        switch (k->type) {
        case KEY_STRING:
                s = *FIELD(c, k, char *) ?: "(default)";
                break;
        case KEY_UNSIGNED:
                return asprintf(&p, "%u", *FIELD(c, k, unsigned)) < 0 ? NULL : p;
        case KEY_BOOL:
                s = *FIELD(c, k, bool) ? "yes" : "no";
                break;
        case KEY_LOG_LEVEL:
                s = strempty(log_level_to_string(*FIELD(c, k, int)));
                break;
        case KEY_REBOOT_METHOD:
                s = strempty(reboot_method_to_string(*FIELD(c, k, int)));
                break;
        case KEY_STRV:
                return asprintf(&p, "%zu lines", strv_length(*FIELD(c, k, char **))) < 0 ? NULL : p;
        }
        return strdup(strempty(s));
}

void agent_config_compare(const AgentConfig *a, const AgentConfig *b, AgentConfigChange cb, void *userdata) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *old = NULL, *new = NULL;

                if (key_equal(&keys[i], a, b))
                        continue;
                old = key_format(&keys[i], a);
                new = key_format(&keys[i], b);
                cb(keys[i].name, old ?: "?", new ?: "?", keys[i].reloadable, userdata);
        }
}

/* Swaps the field's bytes: strings and lists change owner, nothing is copied. */
static void key_swap(const ConfigKey *k, AgentConfig *a, AgentConfig *b) {
        size_t size = k->type == KEY_STRING || k->type == KEY_STRV ? sizeof(char *) :
                      k->type == KEY_BOOL                          ? sizeof(bool) :
                      k->type == KEY_UNSIGNED                      ? sizeof(unsigned) : sizeof(int);
        char tmp[sizeof(char *) > sizeof(int) ? sizeof(char *) : sizeof(int)];

        memcpy(tmp, FIELD(a, k, char), size);
        memcpy(FIELD(a, k, char), FIELD(b, k, char), size);
        memcpy(FIELD(b, k, char), tmp, size);
}

void agent_config_take_reloadable(AgentConfig *dst, AgentConfig *src) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (keys[i].reloadable)
                        key_swap(&keys[i], dst, src);
}

static char *strip(char *s) {
        char *e;

        s += strspn(s, " \t");
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = 0;
        return s;
}

typedef struct LoadState {
        AgentConfig *config;
        unsigned bad_line;
} LoadState;

static int config_line(char *line, unsigned n, void *userdata) {
        LoadState *st = userdata;
        char *l = strip(line), *eq;
        int r;

        if (!*l || *l == '#')
                return 0;
        eq = strchr(l, '=');
        if (!eq) {
                st->bad_line = n;
                return -EINVAL;
        }
        *eq = 0;
        r = agent_config_set(st->config, strip(l), strip(eq + 1));
        if (r < 0)
                st->bad_line = n;
        return r;
}

int agent_config_parse(AgentConfig *c, char *text, unsigned *ret_line) {
        LoadState st = { .config = c };
        int r;

        r = parse_lines(text, config_line, &st);
        if (r < 0 && st.bad_line)
                *ret_line = st.bad_line;
        return r;
}
