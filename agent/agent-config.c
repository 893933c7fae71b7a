/* Agent configuration: see agent-config.h. */
#include <ctype.h>
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
        *c = (AgentConfig) {};
}

static int set_string(char **field, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

static int set_unsigned(unsigned *field, const char *value, unsigned min, unsigned max) {
        int v;

        if (safe_atoi(value, &v) < 0 || v < (int) min || (unsigned) v > max)
                return -EINVAL;
        *field = (unsigned) v;
        return 0;
}

static int set_events(AgentConfig *c, const char *key, const char *value) {
        if (streq(key, "events_ring_size"))
                return set_unsigned(&c->events_ring_size, value, 1, EVENT_LOG_MAX_CAPACITY);
        if (streq(key, "events_heartbeat_sec"))
                return set_unsigned(&c->events_heartbeat_sec, value, 1, 3600);
        if (streq(key, "events_queue_bytes"))
                return set_unsigned(&c->events_queue_bytes, value, 1024, 256 * 1024 * 1024);
        if (streq(key, "events_per_client"))
                return set_unsigned(&c->events_per_client, value, 1, 65536);
        if (streq(key, "events_max_streams"))
                return set_unsigned(&c->events_max_streams, value, 1, 65536);
        return -EINVAL;
}

static int set_bool(bool *b, const char *value) {
        if (streq(value, "yes") || streq(value, "true"))
                *b = true;
        else if (streq(value, "no") || streq(value, "false"))
                *b = false;
        else
                return -EINVAL;
        return 0;
}

int agent_config_set(AgentConfig *c, const char *key, const char *value) {
        if (streq(key, "listen"))
                return set_string(&c->listen, value);
        if (streq(key, "root"))
                return set_string(&c->root, value);
        if (streq(key, "pci_ids"))
                return set_string(&c->pci_ids, value);
        if (streq(key, "log_level")) {
                int l = log_level_from_string(value);
                if (l < 0)
                        return -EINVAL;
                c->log_level = l;
                return 0;
        }
        if (streq(key, "connection_limit"))
                return set_unsigned(&c->connection_limit, value, 1, 65536);
        if (streq(key, "per_ip_connection_limit"))
                return set_unsigned(&c->per_ip_limit, value, 1, 65536);
        if (streq(key, "connection_timeout"))
                return set_unsigned(&c->timeout_sec, value, 1, 3600);
        if (streq(key, "state_dir"))
                return set_string(&c->state_dir, value);
        if (streq(key, "tokens"))
                return set_string(&c->tokens, value);
        if (streq(key, "allow_plain_http"))
                return set_bool(&c->allow_plain_http, value);
        if (streq(key, "run_tools_in_root"))
                return set_bool(&c->run_tools_in_root, value);
        if (streq(key, "reboot_method")) {
                int m = reboot_method_from_string(value);
                if (m < 0)
                        return -EINVAL;
                c->reboot_method = m;
                return 0;
        }
        if (streq(key, "reboot_timeout_sec"))
                return set_unsigned(&c->reboot_timeout_sec, value, 1, 86400);
        if (streq(key, "tls_certificate"))
                return set_string(&c->tls_certificate, value);
        if (streq(key, "tls_key"))
                return set_string(&c->tls_key, value);
        if (streq(key, "tls_client_ca"))
                return set_string(&c->tls_client_ca, value);
        if (streq(key, "tls_client_role"))
                return strv_extend(&c->tls_client_roles, value);
        if (streq(key, "uevent_socket"))
                return set_string(&c->uevent_socket, value);
        if (streq(key, "uevent_coalesce_msec"))
                return set_unsigned(&c->uevent_coalesce_msec, value, 1, 10000);
        if (streq(key, "uevent_max_delay_msec"))
                return set_unsigned(&c->uevent_max_delay_msec, value, 1, 60000);
        if (streq(key, "consistency_interval_sec"))
                return set_unsigned(&c->consistency_sec, value, 0, 86400);
        return set_events(c, key, value);
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

int agent_config_load(AgentConfig *c, const char *path, unsigned *ret_line) {
        LoadState st = { .config = c };
        int r;

        r = read_lines(path, config_line, &st);
        if (r < 0 && st.bad_line)
                *ret_line = st.bad_line;
        return r;
}
