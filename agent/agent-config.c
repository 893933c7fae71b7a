/* Agent configuration: see agent-config.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-config.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "web/server.h"

void agent_config_init(AgentConfig *c) {
        *c = (AgentConfig) {
                .log_level = LOG_INFO,
                .connection_limit = 256,
                .per_ip_limit = 64,
                .timeout_sec = 30,
        };
}

void agent_config_done(AgentConfig *c) {
        free(c->listen);
        free(c->root);
        free(c->pci_ids);
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
        return -EINVAL;
}

static char *strip(char *s) {
        char *e;

        s += strspn(s, " \t");
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = 0;
        return s;
}

int agent_config_load(AgentConfig *c, const char *path, unsigned *ret_line) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        unsigned n = 0;

        if (!f)
                return -errno;
        while (getline(&line, &cap, f) > 0) {
                char *l, *eq;
                int r;

                n++;
                l = strip(line);
                if (!*l || *l == '#')
                        continue;
                eq = strchr(l, '=');
                if (!eq) {
                        *ret_line = n;
                        return -EINVAL;
                }
                *eq = 0;
                r = agent_config_set(c, strip(l), strip(eq + 1));
                if (r < 0) {
                        *ret_line = n;
                        return r;
                }
        }
        return 0;
}
