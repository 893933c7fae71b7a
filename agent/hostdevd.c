/* hostdevd: the per-host PCI passthrough agent. main() only wires the
 * layers: configuration, the host model (first scan), the HTTP server on
 * the sd-event loop, readiness and shutdown under systemd. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "agent-config.h"
#include "basic/hostroot.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "host/host-state.h"
#include "web/server.h"
#include "web/views.h"

typedef struct Options {
        const char *config;        /* --config, NULL: the default under the root */
        bool once;                 /* --once: print the inventory and exit */
        const char *keys[8];       /* command-line settings, applied over the file */
        const char *values[8];
        size_t n;
} Options;

static void help(void) {
        printf("Usage: hostdevd [OPTIONS]\n\n"
               "Serves the PCI passthrough API of this host.\n\n"
               "  -l --listen=ADDR:PORT     where to listen (default %s)\n"
               "  -r --root=DIR             find sys/, proc/, etc/, boot/, dev/ under DIR (default /)\n"
               "  -c --config=FILE          configuration file (default ROOT/etc/hostdevd/hostdevd.conf)\n"
               "     --log-level=LEVEL      debug, info, notice, warning, err (default info)\n"
               "     --pci-ids=FILE         pci.ids database (default: libpci's)\n"
               "     --once                 scan, print the devices as GET /v1/devices would, and exit\n"
               "  -h --help                 show this help\n"
               "     --version              show the version\n",
               WEB_DEFAULT_LISTEN);
}

static int parse_argv(int argc, char *argv[], Options *o) {
        enum { ARG_LOG_LEVEL = 0x100, ARG_PCI_IDS, ARG_VERSION, ARG_ONCE };
        static const struct option opts[] = {
                { "listen", required_argument, NULL, 'l' },     { "root", required_argument, NULL, 'r' },
                { "config", required_argument, NULL, 'c' },     { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "pci-ids", required_argument, NULL, ARG_PCI_IDS }, { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },  { "once", no_argument, NULL, ARG_ONCE },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "l:r:c:h", opts, NULL)) >= 0) {
                const char *key = NULL;

                switch (c) {
                case 'l': key = "listen"; break;
                case 'r': key = "root"; break;
                case ARG_LOG_LEVEL: key = "log_level"; break;
                case ARG_PCI_IDS: key = "pci_ids"; break;
                case 'c': o->config = optarg; break;
                case ARG_ONCE: o->once = true; break;
                case 'h': help(); return 0;
                case ARG_VERSION: printf("hostdevd %s\n", PACKAGE_VERSION); return 0;
                default: return -EINVAL;
                }
                if (key && o->n < ELEMENTSOF(o->keys)) {
                        o->keys[o->n] = key;
                        o->values[o->n++] = optarg;
                }
        }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[optind]);
        return 1;
}

/* The file first, then the command line over it. */
static int load_config(const Options *o, AgentConfig *cfg) {
        _cleanup_(hostroot_freep) HostRoot *root = NULL;
        _cleanup_free_ char *path = NULL;
        const char *root_dir = "/";
        unsigned line = 0;
        int r;

        for (size_t i = 0; i < o->n; i++)
                if (streq(o->keys[i], "root"))
                        root_dir = o->values[i];
        r = hostroot_new(root_dir, &root);
        if (r < 0)
                return log_error_errno(r, "Cannot use '%s' as the root: %m", root_dir);
        path = o->config ? strdup(o->config) : hostroot_path(root, AREA_ETC, "hostdevd/hostdevd.conf");
        if (!path)
                return log_oom();

        r = agent_config_load(cfg, path, &line);
        if (r == -ENOENT && !o->config)
                r = 0;
        if (r == -EINVAL)
                return log_error_errno(r, "%s:%u: unknown key or invalid value.", path, line);
        if (r < 0)
                return log_error_errno(r, "Cannot read configuration '%s': %m", path);

        for (size_t i = 0; i < o->n; i++)
                if (agent_config_set(cfg, o->keys[i], o->values[i]) < 0)
                        return log_error_errno(EINVAL, "Invalid value '%s' for --%s.", o->values[i], o->keys[i]);
        if (!cfg->listen && !(cfg->listen = strdup(WEB_DEFAULT_LISTEN)))
                return log_oom();
        return 0;
}

/* --once: the same JSON the API serves, on stdout. */
static int print_inventory(const HostState *state) {
        json_object *o = view_device_list(state->inventory);
        const char *s;

        if (!o)
                return log_oom();
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
        if (s)
                puts(s);
        json_object_put(o);
        return s && fflush(stdout) == 0 ? 0 : log_oom();
}

static int run(const AgentConfig *cfg, bool once) {
        _cleanup_(host_state_freep) HostState *state = NULL;
        _cleanup_(web_server_freep) WebServer *web = NULL;
        _cleanup_free_ char *error = NULL;
        sd_event *event = NULL;
        sigset_t mask;
        int r;

        r = host_state_new(cfg->root, cfg->pci_ids, &state, &error);
        if (r < 0)
                return log_error_errno(r, "Initial PCI scan of '%s' failed: %s", cfg->root ?: "/",
                                       error ?: strerror(-r));
        log_info("Scanned %zu PCI functions, %zu IOMMU groups under '%s'.", state->inventory->n_devices,
                 state->inventory->n_groups, cfg->root ?: "/");
        if (once)
                return print_inventory(state);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");
        /* A NULL handler makes the signal end the loop. */
        if (sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL) < 0 ||
            sd_event_add_signal(event, NULL, SIGINT, NULL, NULL) < 0) {
                sd_event_unref(event);
                return log_error_errno(EIO, "Failed to watch signals.");
        }

        r = web_server_new(event, state, &(WebServerConfig) { .listen = cfg->listen,
                                                             .connection_limit = cfg->connection_limit,
                                                             .per_ip_limit = cfg->per_ip_limit,
                                                             .timeout_sec = cfg->timeout_sec }, &web);
        if (r < 0) {
                sd_event_unref(event);
                return r;
        }
        log_info("Listening on %s (port %u).", cfg->listen, web_server_port(web));
        sd_notifyf(0, "READY=1\nSTATUS=Serving %zu PCI functions on %s", state->inventory->n_devices, cfg->listen);

        r = sd_event_loop(event);
        sd_notify(0, "STOPPING=1");
        log_info("Shutting down.");
        web = web_server_free(web);
        sd_event_unref(event);
        return r < 0 ? log_error_errno(r, "Event loop failed: %m") : 0;
}

int main(int argc, char *argv[]) {
        AgentConfig cfg;
        Options o = {};
        int r;

        log_open();
        agent_config_init(&cfg);
        r = parse_argv(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        r = load_config(&o, &cfg);
        if (r >= 0) {
                log_set_max_level(cfg.log_level);
                r = run(&cfg, o.once);
        }
        agent_config_done(&cfg);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
