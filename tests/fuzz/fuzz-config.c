/* libFuzzer target for the agent's configuration file (agent-config.c),
 * checked against hostdevd.conf(5): a file loads exactly when every line
 * does (blank, a comment, or "key = value" with a known key and a value the
 * manual allows: the ranges of the numbers, the booleans, the log levels,
 * the reboot methods), the error names the first line that does not, and
 * what is loaded is the last value of each key (every one, in order, for
 * tls_client_role). The role mappings then go through auth_add_subject(),
 * as a reload does; comparing and swapping the reloadable keys does not
 * leak or change a configuration compared with itself. */

#include <ctype.h>
#include <stddef.h>
#include <strings.h>

#include "agent-config.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "fuzz.h"
#include "web/auth.h"

typedef enum Kind { STRING, NUMBER, BOOLEAN, LEVEL, METHOD, LIST } Kind;

/* hostdevd.conf(5), KEYS. */
static const struct Key {
        const char *name;
        Kind kind;
        size_t offset;
        long min, max;
} keys[] = {
        { "listen", STRING, offsetof(AgentConfig, listen) },
        { "allow_plain_http", BOOLEAN, offsetof(AgentConfig, allow_plain_http) },
        { "connection_limit", NUMBER, offsetof(AgentConfig, connection_limit), 1, 65536 },
        { "per_ip_connection_limit", NUMBER, offsetof(AgentConfig, per_ip_limit), 1, 65536 },
        { "connection_timeout", NUMBER, offsetof(AgentConfig, timeout_sec), 1, 3600 },
        { "metrics_listen", STRING, offsetof(AgentConfig, metrics_listen) },
        { "tokens", STRING, offsetof(AgentConfig, tokens) },
        { "tls_certificate", STRING, offsetof(AgentConfig, tls_certificate) },
        { "tls_key", STRING, offsetof(AgentConfig, tls_key) },
        { "tls_client_ca", STRING, offsetof(AgentConfig, tls_client_ca) },
        { "tls_client_role", LIST, offsetof(AgentConfig, tls_client_roles) },
        { "root", STRING, offsetof(AgentConfig, root) },
        { "state_dir", STRING, offsetof(AgentConfig, state_dir) },
        { "pci_ids", STRING, offsetof(AgentConfig, pci_ids) },
        { "run_tools_in_root", BOOLEAN, offsetof(AgentConfig, run_tools_in_root) },
        { "reboot_method", METHOD, offsetof(AgentConfig, reboot_method) },
        { "reboot_timeout_sec", NUMBER, offsetof(AgentConfig, reboot_timeout_sec), 1, 86400 },
        { "log_level", LEVEL, offsetof(AgentConfig, log_level) },
        { "uevent_socket", STRING, offsetof(AgentConfig, uevent_socket) },
        { "uevent_coalesce_msec", NUMBER, offsetof(AgentConfig, uevent_coalesce_msec), 1, 10000 },
        { "uevent_max_delay_msec", NUMBER, offsetof(AgentConfig, uevent_max_delay_msec), 1, 60000 },
        { "consistency_interval_sec", NUMBER, offsetof(AgentConfig, consistency_sec), 0, 86400 },
        { "events_ring_size", NUMBER, offsetof(AgentConfig, events_ring_size), 1, 1048576 },
        { "events_heartbeat_sec", NUMBER, offsetof(AgentConfig, events_heartbeat_sec), 1, 3600 },
        { "events_queue_bytes", NUMBER, offsetof(AgentConfig, events_queue_bytes), 1024, 268435456 },
        { "events_per_client", NUMBER, offsetof(AgentConfig, events_per_client), 1, 65536 },
        { "events_max_streams", NUMBER, offsetof(AgentConfig, events_max_streams), 1, 65536 },
};

#define FIELD(c, k, type) (*(type *) (void *) ((char *) (c) + (k)->offset))

/* A decimal integer (an optional sign, digits) in range; its value. */
static bool number_ok(const char *v, long min, long max, long *ret) {
        const char *d = v + (*v == '+' || *v == '-');
        long n = 0;

        if (!*d || strspn(d, "0123456789") != strlen(d))
                return false;
        for (; *d; d++)
                n = n > 1000000000000L ? n : n * 10 + (*d - '0'); /* saturates far beyond every max */
        n = *v == '-' ? -n : n;
        *ret = n;
        return n >= min && n <= max;
}

static bool value_ok(const struct Key *k, const char *v) {
        static const char *const levels[] = { "emerg", "alert", "crit", "err", "error", "warning", "notice", "info", "debug" };
        long n;

        switch (k->kind) {
        case NUMBER:
                return number_ok(v, k->min, k->max, &n);
        case BOOLEAN:
                return streq(v, "yes") || streq(v, "true") || streq(v, "no") || streq(v, "false");
        case LEVEL:
                for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                        if (strcasecmp(v, levels[i]) == 0)
                                return true;
                return false;
        case METHOD:
                return streq(v, "logind") || streq(v, "direct");
        default:
                return true;
        }
}

/* "Blanks around the key and the value are ignored": spaces and tabs before,
 * any white space after (a CRLF file's \r too). */
static char *strip(char *s) {
        char *e;

        s += strspn(s, " \t");
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = 0;
        return s;
}

typedef struct Model {
        const char *last[ELEMENTSOF(keys)]; /* into the lines */
        char **list;                        /* tls_client_role, every value */
} Model;

/* One line as the manual reads it: blank or comment (true), a valid
 * assignment (true, recorded), anything else (false). */
static bool line_ok(char *line, Model *m) {
        char *l = strip(line), *eq;

        if (!*l || *l == '#')
                return true;
        eq = strchr(l, '=');
        if (!eq)
                return false;
        *eq = 0;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *v;

                if (!streq(keys[i].name, strip(l)))
                        continue;
                v = strip(eq + 1);
                if (!value_ok(&keys[i], v))
                        return false;
                m->last[i] = v;
                if (keys[i].kind == LIST)
                        FUZZ_OOM(strv_extend(&m->list, v) >= 0);
                return true;
        }
        return false;
}

static void check_loaded(const AgentConfig *c, const Model *m) {
        AgentConfig d;

        agent_config_init(&d);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const struct Key *k = keys + i;
                long n;

                switch (k->kind) {
                case STRING:
                        FUZZ_ASSERT(streq_ptr(FIELD(c, k, char *), m->last[i]));
                        break;
                case NUMBER:
                        FUZZ_ASSERT(number_ok(m->last[i] ?: "", k->min, k->max, &n) ?
                                    FIELD(c, k, unsigned) == (unsigned) n : FIELD(c, k, unsigned) == FIELD(&d, k, unsigned));
                        break;
                case BOOLEAN:
                        FUZZ_ASSERT(FIELD(c, k, bool) == (m->last[i] ? m->last[i][0] == 'y' || m->last[i][0] == 't'
                                                                     : FIELD(&d, k, bool)));
                        break;
                case LIST:
                        FUZZ_ASSERT(strv_equal(FIELD(c, k, char **), m->list));
                        break;
                default:
                        break;
                }
        }
        agent_config_done(&d);
}

static void count_change(const char *key, const char *old, const char *new, bool reloadable, void *userdata) {
        (*(unsigned *) userdata)++;
}

/* Each line of text (a copy the model may point into), the way the manual
 * reads it; the first one that fails in *ret_bad. */
static bool model(char *text, size_t size, Model *m, unsigned *ret_bad) {
        char *line = text, *end = text + size;
        unsigned n = 0;

        while (line < end) {
                char *nl = memchr(line, '\n', (size_t) (end - line));

                if (nl)
                        *nl = 0;
                n++;
                if (!line_ok(line, m)) { /* a C string: a NUL ends it, as for the parser */
                        *ret_bad = n;
                        return false;
                }
                line = nl ? nl + 1 : end;
        }
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL, *parsed = NULL;
        AgentConfig c, d;
        Model m = {};
        unsigned line = 0, bad = 0, changes = 0;
        Auth a = {};
        int r;

        /* A file with a NUL byte is refused before it is parsed (hostdevd.c). */
        if (size > 64 * 1024 || memchr(data, 0, size))
                return 0;
        parsed = fuzz_memdup(data, size);
        agent_config_init(&c);
        r = agent_config_parse(&c, parsed, &line);
        text = fuzz_memdup(data, size);
        if (!model(text, size, &m, &bad)) {
                FUZZ_ASSERT(r == -EINVAL && line == bad);
                goto done;
        }
        FUZZ_ASSERT(r == 0);
        check_loaded(&c, &m);

        /* What a reload does with the roles, and with the configuration. */
        STRV_FOREACH(s, c.tls_client_roles) {
                int k = auth_add_subject(&a, *s);

                FUZZ_ASSERT(k == 0 || k == -EINVAL);
        }
        agent_config_compare(&c, &c, count_change, &changes);
        FUZZ_ASSERT(changes == 0);
        agent_config_init(&d);
        agent_config_take_reloadable(&d, &c);
        agent_config_take_reloadable(&d, &c);
        agent_config_compare(&c, &c, count_change, &changes);
        FUZZ_ASSERT(changes == 0);
        agent_config_done(&d);
done:
        auth_done(&a);
        agent_config_done(&c);
        strv_free(m.list);
        return 0;
}
