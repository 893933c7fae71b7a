/* hostdevd: the per-host PCI passthrough agent. main() only wires the
 * layers: configuration, the host model (first scan), the HTTP server on
 * the sd-event loop, readiness and shutdown under systemd. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "agent-config.h"
#include "reload.h"
#include "basic/fileio.h"
#include "basic/hex.h"
#include "basic/hostroot.h"
#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "host/host-state.h"
#include "host/host-watch.h"
#include "host/hostinfo.h"
#include "host/mdev-change.h"
#include "host/sriov.h"
#include "host/vfio-bind.h"
#include "kernel-cmdline/bootloader.h"
#include "state/event-log.h"
#include "state/reboot.h"
#include "state/store.h"
#include "state/worker.h"
#include "web/auth.h"
#include "web/metrics.h"
#include "web/server.h"
#include "web/tls.h"
#include "web/resources.h"
#include "web/views.h"

typedef struct Options {
        const char *config;        /* --config, NULL: the default under the root */
        bool once;                 /* --once: print the inventory and exit */
        const char *new_token;     /* --new-token=ROLE[:NAME] */
        const char *keys[16];      /* command-line settings, applied over the file */
        const char *values[16];
        size_t n;
} Options;

static void help(void) {
        printf("Usage: hostdevd [OPTIONS]\n\n"
               "Serves the PCI passthrough API of this host.\n\n"
               "  -l --listen=ADDR:PORT     where to listen (default %s)\n"
               "  -r --root=DIR             find sys/, proc/, etc/, boot/, dev/ under DIR (default /)\n"
               "  -c --config=FILE          configuration file (default ROOT%s/hostdevd.conf)\n"
               "     --log-level=LEVEL      debug, info, notice, warning, err (default info)\n"
               "     --pci-ids=FILE         pci.ids database (default: libpci's)\n"
               "     --state-dir=DIR        maintenance state, operations (default ROOT/var/lib/hostdevd)\n"
               "     --tokens=FILE          bearer tokens and roles (default ROOT%s/tokens)\n"
               "     --new-token=ROLE[:NAME]\n"
               "                            add a token (reader, operator, admin) to the tokens file,\n"
               "                            print it, and exit\n"
               "     --allow-plain-http     serve plain HTTP beyond loopback (test VMs only)\n"
               "     --run-tools-in-root    run the bootloader's regeneration tool found under a root\n"
               "                            that is not / (test trees with stand-in tools only)\n"
               "     --reboot-method=M      logind (default) or direct (sync, reboot(2))\n"
               "     --uevent-socket=PATH   also take kernel-format uevents on this datagram socket (tests)\n"
               "     --once                 scan, print the devices as GET /v1/devices would, and exit\n"
               "  -h --help                 show this help\n"
               "     --version              show the version\n",
               WEB_DEFAULT_LISTEN, HOSTDEVD_CONFDIR, HOSTDEVD_CONFDIR);
}

static int parse_argv(int argc, char *argv[], Options *o) {
        enum { ARG_LOG_LEVEL = 0x100, ARG_PCI_IDS, ARG_VERSION, ARG_ONCE, ARG_STATE_DIR, ARG_TOKENS,
               ARG_NEW_TOKEN, ARG_ALLOW_PLAIN_HTTP, ARG_REBOOT_METHOD, ARG_UEVENT_SOCKET, ARG_RUN_TOOLS_IN_ROOT };
        static const struct option opts[] = {
                { "listen", required_argument, NULL, 'l' },     { "root", required_argument, NULL, 'r' },
                { "config", required_argument, NULL, 'c' },     { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "pci-ids", required_argument, NULL, ARG_PCI_IDS }, { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },  { "once", no_argument, NULL, ARG_ONCE },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "tokens", required_argument, NULL, ARG_TOKENS },
                { "new-token", required_argument, NULL, ARG_NEW_TOKEN },
                { "allow-plain-http", no_argument, NULL, ARG_ALLOW_PLAIN_HTTP },
                { "reboot-method", required_argument, NULL, ARG_REBOOT_METHOD },
                { "uevent-socket", required_argument, NULL, ARG_UEVENT_SOCKET },
                { "run-tools-in-root", no_argument, NULL, ARG_RUN_TOOLS_IN_ROOT },
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
                case ARG_STATE_DIR: key = "state_dir"; break;
                case ARG_TOKENS: key = "tokens"; break;
                case ARG_NEW_TOKEN: o->new_token = optarg; break;
                case ARG_ALLOW_PLAIN_HTTP: key = "allow_plain_http"; optarg = (char *) "yes"; break;
                case ARG_REBOOT_METHOD: key = "reboot_method"; break;
                case ARG_UEVENT_SOCKET: key = "uevent_socket"; break;
                case ARG_RUN_TOOLS_IN_ROOT: key = "run_tools_in_root"; optarg = (char *) "yes"; break;
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

/* The file first, then the command line over it: at start, and again at
 * every reload. */
static int load_config(const Options *o, AgentConfig *cfg) {
        _cleanup_(hostroot_freep) HostRoot *root = NULL;
        _cleanup_free_ char *path = NULL, *text = NULL, *why = NULL;
        const char *root_dir = "/";
        unsigned line = 0;
        size_t size = 0;
        int r;

        for (size_t i = 0; i < o->n; i++)
                if (streq(o->keys[i], "root"))
                        root_dir = o->values[i];
        r = hostroot_new(root_dir, &root);
        if (r < 0)
                return log_error_errno(r, "Cannot use '%s' as the root: %m", root_dir);
        path = o->config ? strdup(o->config) : hostroot_path(root, AREA_CONFIG, "hostdevd.conf");
        if (!path)
                return log_oom();

        /* It names the tokens file, the TLS key and the state directory:
         * whoever may change it may give themselves any role. */
        r = read_secret_file(path, AGENT_CONFIG_FILE_MAX, S_IWGRP | S_IWOTH, 0644, &text, &size, &why);
        if (why)
                return log_error_errno(r, "%s %s", path, why);
        if (r == -ENOENT && !o->config)
                ; /* no file: the defaults */
        else if (r < 0)
                return log_error_errno(r, "Cannot read configuration '%s': %m", path);
        else if (strlen(text) != size)
                return log_error_errno(EINVAL, "%s holds a NUL byte: not a configuration file.", path);
        else if ((r = agent_config_parse(cfg, text, &line)) == -EINVAL)
                return log_error_errno(r, "%s:%u: unknown key or invalid value.", path, line);
        else if (r < 0)
                return log_oom();

        for (size_t i = 0; i < o->n; i++)
                if (agent_config_set(cfg, o->keys[i], o->values[i]) < 0)
                        return log_error_errno(EINVAL, "Invalid value '%s' for --%s.", o->values[i], o->keys[i]);
        if (!cfg->listen && !(cfg->listen = strdup(WEB_DEFAULT_LISTEN)))
                return log_oom();
        if (!cfg->state_dir && !(cfg->state_dir = hostroot_path(root, AREA_STATE, "%s", "")))
                return log_oom();
        if (cfg->state_dir[0] != '/')
                return log_error_errno(EINVAL, "The state directory must be an absolute path, not '%s'.",
                                       cfg->state_dir);
        if (!cfg->tokens && !(cfg->tokens = hostroot_path(root, AREA_CONFIG, "tokens")))
                return log_oom();
        return 0;
}

/* --new-token: a random token, its hash appended to the tokens file (atomic
 * rewrite, 0600), the token itself printed once. */
static int new_token(const AgentConfig *cfg, const char *spec) {
        _cleanup_free_ char *role = NULL, *old = NULL, *contents = NULL;
        const char *colon = strchr(spec, ':'), *name = colon ? colon + 1 : NULL;
        char token[65], hash[65];
        int r;

        role = colon ? strndup(spec, (size_t) (colon - spec)) : strdup(spec);
        if (!role)
                return log_oom();
        if (role_from_string(role) == ROLE_NONE)
                return log_error_errno(EINVAL, "Unknown role '%s': reader, operator or admin.", role);
        if (name && (!*name || strpbrk(name, "\n\r#") || strlen(name) >= AUTH_NAME_MAX))
                return log_error_errno(EINVAL, "Invalid token name '%s'.", name);
        r = random_hex(32, token);
        if (r < 0)
                return log_error_errno(r, "Cannot get random bytes: %m");
        r = auth_hash_token_hex(token, hash);
        if (r < 0)
                return log_error_errno(r, "Cannot hash the token: %m");

        r = mkdir_parents(cfg->tokens);
        if (r < 0)
                return log_error_errno(r, "Cannot create the directory of %s: %m", cfg->tokens);
        r = read_full_file(cfg->tokens, 1024 * 1024, &old, NULL);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Cannot read %s: %m", cfg->tokens);
        if (asprintf(&contents, "%s%s%s %s%s%s\n", strempty(old),
                     old && *old && old[strlen(old) - 1] != '\n' ? "\n" : "", role, hash, name ? " " : "",
                     strempty(name)) < 0)
                return log_oom();
        r = write_file_atomic(cfg->tokens, contents, strlen(contents), 0600);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", cfg->tokens);
        printf("%s\n", token);
        log_info("Added a token with role %s%s%s to %s.", role, name ? ", named " : "", strempty(name), cfg->tokens);
        return 0;
}

/* Mutual TLS when tls_certificate, tls_key and tls_client_ca are all set:
 * returns 1 with the credentials loaded, 0 when none is set. */
static int load_tls(const AgentConfig *cfg, TlsCredentials *ret) {
        _cleanup_free_ char *error = NULL;
        const char *missing = !cfg->tls_certificate ? "tls_certificate" :
                              !cfg->tls_key         ? "tls_key" :
                              !cfg->tls_client_ca   ? "tls_client_ca" : NULL;
        int r;

        if (!cfg->tls_certificate && !cfg->tls_key && !cfg->tls_client_ca) {
                if (cfg->tls_client_roles)
                        log_warning("tls_client_role is ignored: TLS is not configured (tls_certificate, tls_key, "
                                    "tls_client_ca).");
                return 0;
        }
        if (missing)
                return log_error_errno(EINVAL, "TLS is configured only in part: %s is missing (mutual TLS needs "
                                       "tls_certificate, tls_key and tls_client_ca).", missing);
        r = tls_credentials_load(ret, cfg->tls_certificate, cfg->tls_key, cfg->tls_client_ca, &error);
        if (r < 0)
                return error ? log_error_errno(r, "%s", error) : log_oom();
        if (ret->cert_expires < time(NULL))
                log_warning("The server certificate in %s has expired.", cfg->tls_certificate);
        log_info("Mutual TLS (1.2 and 1.3): client certificates signed by %s (%zu CA certificates), "
                 "%zu subjects mapped to roles.", cfg->tls_client_ca, ret->n_trusted,
                 strv_length(cfg->tls_client_roles));
        return 1;
}

/* Every operation written, as GET /v1/operations/{id} shows it. */
static void publish_operation(const Operation *op, void *userdata) {
        json_object *o = view_operation(op);

        if (!o || event_log_publish(userdata, "operation-changed", o) < 0)
                log_warning("Cannot publish the change of operation %s: out of memory.", op->id);
}

/* Operations whose work a previous run of the agent did not finish: they
 * failed, and what they left is settled by what runs before the server. */
static int fail_interrupted(Store *store) {
        static const struct {
                const char *kind, *reason;
        } t[] = {
                { "kernel-cmdline", "the agent stopped while the kernel command line was being changed; a write of "
                                    "the bootloader files it interrupted was rolled back at this start (a finished "
                                    "write stands, but the regeneration tool may not have run to its end): GET "
                                    "/v1/kernel-cmdline shows what the files say; send the change again" },
                { "bind", "the agent stopped while the group was being bound to vfio-pci; the binding record written "
                          "before the first change (with the original drivers) was kept, and the bind was carried to "
                          "its end at this start: GET /v1/devices/{address}/driver shows each device's driver; "
                          "DELETE gives the group back" },
                { "release", "the agent stopped while the group was being given back to its drivers; the binding "
                             "record (with the original drivers) was kept until then, and the release was finished at "
                             "this start: GET /v1/devices/{address}/driver shows each device's driver" },
        };
        uint64_t now = now_realtime_usec();
        int r;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                r = store_fail_interrupted(store, t[i].kind, t[i].reason, now);
                if (r < 0)
                        return log_error_errno(r, "Cannot record the interrupted %s operations: %m", t[i].kind);
        }
        return 0;
}

/* The durable state, with reboot operations settled against this boot
 * (and published: a stream that starts later replays them). */
static int open_store(const AgentConfig *cfg, const HostState *state, EventLog *events, Store **ret) {
        _cleanup_(hostinfo_done) HostInfo info = {};
        int r;

        r = store_open(cfg->state_dir, ret);
        if (r < 0)
                return log_error_errno(r, "Cannot use the state directory %s: %m", cfg->state_dir);
        store_set_operation_hook(*ret, publish_operation, events);
        r = hostinfo_read(state->root, &info);
        if (r < 0)
                return log_error_errno(r, "Cannot read the host's identity: %m");
        r = reboot_reconcile(*ret, info.boot_id, info.cmdline, state->inventory->iommu_active, now_realtime_usec());
        if (r < 0)
                return r;
        r = fail_interrupted(*ret);
        if (r < 0)
                return r;
        log_info("State in %s: host %s.", cfg->state_dir, (*ret)->maintenance.enabled ? "in maintenance" : "active");
        return 0;
}

/* Recorded VF counts, before the vfio-pci bindings (which may name VFs):
 * each is set again, or reported (drift, refusal, failure). */
static void reapply_sriov(HostState *state, const char *state_dir) {
        _cleanup_free_ char *error = NULL;
        SriovReapplyResult *res = NULL;
        size_t n = 0;
        bool changed = false;
        int r;

        r = sriov_reapply(state->root, state->inventory, state_dir, &res, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot re-apply the VF counts recorded in %s: %m", state_dir);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const SriovReapplyResult *x = &res[i];
                bool bad = !streq(x->outcome, "applied") && !streq(x->outcome, "already");

                changed = changed || streq(x->outcome, "applied") || streq(x->outcome, "failed");
                log_full_errno(bad ? LOG_WARNING : LOG_INFO, 0, "VF count of %s (%u): %s%s%s", x->address, x->numvfs,
                               x->outcome, x->detail ? ": " : "", strempty(x->detail));
        }
        sriov_reapply_results_free(res, n);
        if (changed && (r = host_state_rescan(state, &error)) < 0)
                log_warning_errno(r, "Rescan after re-applying VF counts failed: %s", error ?: strerror(-r));
}

/* Mediated devices defined to start automatically (mdevctl's "auto"),
 * after the VF counts (a VF may be a parent) and before the bindings. */
static void reapply_mdevs(HostState *state) {
        _cleanup_free_ char *error = NULL;
        MdevReapplyResult *res = NULL;
        size_t n = 0;
        bool changed = false;
        int r;

        r = mdev_reapply(state->root, state->inventory, &res, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot start the mediated devices defined to start automatically: %m");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const MdevReapplyResult *x = &res[i];
                bool bad = streq(x->outcome, "failed") || streq(x->outcome, "drifted");

                changed = changed || streq(x->outcome, "started");
                log_full_errno(bad ? LOG_WARNING : LOG_INFO, 0, "Mediated device %s on %s: %s%s%s", x->uuid,
                               x->parent, x->outcome, x->detail ? ": " : "", strempty(x->detail));
        }
        mdev_reapply_results_free(res, n);
        if (changed && (r = host_state_rescan(state, &error)) < 0)
                log_warning_errno(r, "Rescan after starting mediated devices failed: %s", error ?: strerror(-r));
}

/* Persistent vfio-pci bindings, before the server answers anyone: each is
 * re-applied, or reported (drift, refusal, failure); the agent starts anyway. */
static void reapply_bindings(HostState *state, const char *state_dir) {
        _cleanup_free_ char *error = NULL;
        ReapplyResult *res = NULL;
        size_t n = 0;
        bool changed = false;
        int r;

        r = vfio_bind_reapply(state->root, state->inventory, state_dir, &res, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot re-apply the vfio-pci bindings recorded in %s: %m", state_dir);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const ReapplyResult *x = &res[i];
                int level = x->outcome == REAPPLY_DRIFTED || x->outcome == REAPPLY_REFUSED ? LOG_WARNING
                            : x->outcome == REAPPLY_FAILED                                ? LOG_ERR
                                                                                          : LOG_INFO;

                changed = changed || x->outcome == REAPPLY_APPLIED || x->outcome == REAPPLY_FAILED ||
                          x->outcome == REAPPLY_RELEASED;
                log_full_errno(level, 0, "vfio-pci binding of IOMMU group %d (%s): %s%s%s", x->group, x->requested,
                               reapply_outcome_to_string(x->outcome), x->detail ? ": " : "", strempty(x->detail));
        }
        reapply_results_free(res, n);
        if (changed && (r = host_state_rescan(state, &error)) < 0)
                log_warning_errno(r, "Rescan after re-applying bindings failed: %s", error ?: strerror(-r));
}

/* A kernel command-line edit that a crash interrupted is rolled back from
 * its backups, and stale temporary files are removed, before anyone can
 * ask for another edit. */
static void cleanup_bootloader(const HostState *state) {
        _cleanup_strv_free_ char **actions = NULL;
        int r;

        r = bootloader_cleanup_stale(state->root, &actions);
        if (r < 0)
                log_error_errno(r, "Cannot clean up after an interrupted kernel command-line edit: %m");
        for (char **a = actions; a && *a; a++)
                log_notice("Bootloader files: %s", *a);
}

/* --once: the same JSON the API serves, on stdout. */
static int print_inventory(const HostState *state) {
        RenderedBody *b = render_body(state->inventory, false, 0, write_device_list, NULL);
        const Representation *id;
        int r = 0;

        if (!b)
                return log_oom();
        id = &b->rep[ENCODING_IDENTITY];
        if (fwrite(id->data, 1, id->size, stdout) != id->size || fflush(stdout) != 0)
                r = log_error_errno(errno, "Cannot write the inventory: %m");
        rendered_body_unref(b);
        return r;
}

static void on_inventory_changed(HostState *s, const InventoryDiff *diff, const char *cause, void *userdata) {
        web_server_inventory_changed(userdata, diff, cause);
}

static int reload_config(AgentConfig *cfg, void *userdata) {
        return load_config(userdata, cfg);
}

/* The metrics listener, when metrics_listen is set: GET /metrics without
 * credentials, as node exporters are scraped. */
static int start_metrics_listener(sd_event *event, AgentContext *ctx, const AgentConfig *cfg, WebServer **ret) {
        int r;

        if (!cfg->metrics_listen)
                return 0;
        r = web_server_new(event, ctx, &(WebServerConfig) { .listen = cfg->metrics_listen,
                                                           .connection_limit = 16, .per_ip_limit = 8,
                                                           .timeout_sec = cfg->timeout_sec,
                                                           .request_timeout_sec = cfg->request_timeout_sec,
                                                           .allow_plain_http = cfg->allow_plain_http,
                                                           .metrics_only = true }, ret);
        if (r < 0)
                return r;
        log_info("Metrics without credentials on %s (port %u): GET /metrics.", cfg->metrics_listen,
                 web_server_port(*ret));
        return 0;
}

static int run(AgentConfig *cfg, const Options *o) {
        _cleanup_(host_state_freep) HostState *state = NULL;
        _cleanup_(store_freep) Store *store = NULL;
        _cleanup_(event_log_freep) EventLog *events = NULL;
        _cleanup_(auth_done) Auth auth = {};
        _cleanup_(rebooter_done) Rebooter rebooter = {};
        _cleanup_(tls_credentials_done) TlsCredentials tls = {};
        _cleanup_(web_server_freep) WebServer *web = NULL, *metrics_web = NULL;
        _cleanup_(web_metrics_freep) WebMetrics *metrics = NULL;
        _cleanup_(reloader_done) Reloader reloader = {};
        _cleanup_(host_watch_freep) HostWatch *watch = NULL;
        _cleanup_(worker_freep) Worker *worker = NULL;
        AgentContext ctx = {};
        _cleanup_free_ char *error = NULL;
        sd_event *event = NULL;
        bool use_tls;
        sigset_t mask;
        int r;

        r = host_state_new(cfg->root, cfg->pci_ids, &state, &error);
        if (r < 0)
                return log_error_errno(r, "Initial PCI scan of '%s' failed: %s", cfg->root ?: "/",
                                       error ?: strerror(-r));
        log_info("Scanned %zu PCI functions, %zu IOMMU groups under '%s'.", state->inventory->n_devices,
                 state->inventory->n_groups, cfg->root ?: "/");
        if (o->once)
                return print_inventory(state);
        r = hostroot_set_state_dir(state->root, cfg->state_dir);
        if (r < 0)
                return log_oom();
        r = load_tls(cfg, &tls); /* a bad configuration stops the agent before it touches the host */
        if (r < 0)
                return r;
        use_tls = r > 0;
        r = event_log_new(cfg->events_ring_size, &events);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event log: %m");
        r = open_store(cfg, state, events, &store);
        if (r < 0)
                return r;
        cleanup_bootloader(state);
        reapply_sriov(state, cfg->state_dir);
        reapply_mdevs(state);
        reapply_bindings(state, cfg->state_dir);
        r = agent_load_auth(cfg, use_tls, &auth);
        if (r < 0)
                return r;
        r = web_metrics_new(&metrics);
        if (r < 0)
                return log_oom();

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
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

        rebooter = (Rebooter) { .event = event, .store = store, .method = cfg->reboot_method,
                                .may_reboot_directly = hostroot_is_host(state->root),
                                .timeout_usec = (uint64_t) cfg->reboot_timeout_sec * 1000000ULL };
        r = worker_new(event, &worker);
        if (r < 0) {
                sd_event_unref(event);
                return log_error_errno(r, "Failed to set up the worker: %m");
        }
        ctx = (AgentContext) { .host = state, .store = store, .auth = &auth, .rebooter = &rebooter, .event = event,
                               .events = events, .worker = worker, .metrics = metrics,
                               .run_tools_in_root = cfg->run_tools_in_root };
        r = web_server_new(event, &ctx, &(WebServerConfig) { .listen = cfg->listen,
                                                            .connection_limit = cfg->connection_limit,
                                                            .per_ip_limit = cfg->per_ip_limit,
                                                            .timeout_sec = cfg->timeout_sec,
                                                            .request_timeout_sec = cfg->request_timeout_sec,
                                                            .allow_plain_http = cfg->allow_plain_http,
                                                            .tls = use_tls ? &tls : NULL,
                                                            .events = {
                                                                .heartbeat_sec = cfg->events_heartbeat_sec,
                                                                .queue_bytes = cfg->events_queue_bytes,
                                                                .per_client = cfg->events_per_client,
                                                                .max_streams = cfg->events_max_streams,
                                                                .unacked_sec = cfg->timeout_sec,
                                                            } }, &web);
        if (r < 0) {
                sd_event_unref(event);
                return r;
        }
        r = start_metrics_listener(event, &ctx, cfg, &metrics_web);
        if (r < 0) {
                web = web_server_free(web);
                sd_event_unref(event);
                return r;
        }
        host_state_set_listener(state, on_inventory_changed, web);
        r = host_watch_new(event, state, &(HostWatchConfig) { .uevent_socket = cfg->uevent_socket,
                                                             .coalesce_msec = cfg->uevent_coalesce_msec,
                                                             .max_delay_msec = cfg->uevent_max_delay_msec,
                                                             .consistency_sec = cfg->consistency_sec }, &watch);
        if (r < 0) {
                host_state_set_listener(state, NULL, NULL);
                metrics_web = web_server_free(metrics_web);
                web = web_server_free(web);
                sd_event_unref(event);
                return log_error_errno(r, "Cannot follow the host's devices: %m");
        }
        ctx.watch = watch;
        reloader = (Reloader) { .config = cfg, .load = reload_config, .load_userdata = (void *) o, .ctx = &ctx };
        r = reloader_start(&reloader, event);
        if (r < 0) {
                host_state_set_listener(state, NULL, NULL);
                watch = host_watch_free(watch);
                metrics_web = web_server_free(metrics_web);
                web = web_server_free(web);
                sd_event_unref(event);
                return log_error_errno(r, "Failed to watch SIGHUP: %m");
        }
        log_info("Listening on %s (port %u); following the devices through %s%s.", cfg->listen,
                 web_server_port(web), host_watch_stats(watch)->source,
                 host_watch_stats(watch)->vfio_inotify ? " and inotify on the VFIO nodes" : "");
        sd_notifyf(0, "READY=1\nSTATUS=Serving %zu PCI functions on %s", state->inventory->n_devices, cfg->listen);

        r = sd_event_loop(event);
        sd_notify(0, "STOPPING=1");
        log_info("Shutting down.");
        reloader_done(&reloader);
        watch = host_watch_free(watch);
        host_state_set_listener(state, NULL, NULL);
        metrics_web = web_server_free(metrics_web);
        web = web_server_free(web);
        worker = worker_free(worker); /* a job under way ends first, and is recorded */
        rebooter_done(&rebooter);
        sd_event_unref(event);
        return r < 0 ? log_error_errno(r, "Event loop failed: %m") : 0;
}

int main(int argc, char *argv[]) {
        AgentConfig cfg;
        Options o = {};
        int r;

        /* A fixed threshold: glibc otherwise raises it to the size of each
         * large block freed, and the next rendering of a multi-megabyte
         * body then comes from the heap and stays in it. Blocks this large
         * are mapped and unmapped whole, and RSS follows what is live. */
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        log_open();
        agent_config_init(&cfg);
        r = parse_argv(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        r = load_config(&o, &cfg);
        if (r >= 0) {
                log_set_max_level(cfg.log_level);
                r = o.new_token ? new_token(&cfg, o.new_token) : run(&cfg, &o);
        }
        agent_config_done(&cfg);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
