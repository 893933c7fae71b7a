/* Reloading the configuration and the tokens: see reload.h. */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include <systemd/sd-daemon.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "reload.h"
#include "web/event-streams.h"

/* The tokens file decides who may change the host: anyone else who could
 * write it could grant themselves admin. It holds hashes, not secrets, so
 * reading it is not refused. */
#define TOKENS_FORBIDDEN_MODE (S_IWGRP | S_IWOTH)
#define TOKENS_FILE_MAX (4 * 1024 * 1024)

static int read_tokens(const char *path, char **ret, size_t *ret_size) {
        _cleanup_free_ char *why = NULL;
        int r;

        r = read_secret_file(path, TOKENS_FILE_MAX, TOKENS_FORBIDDEN_MODE, 0600, ret, ret_size, &why);
        if (why) /* anyone who can write it can give themselves any role */
                return log_error_errno(r, "%s %s", path, why);
        return r; /* the caller tells ENOENT from the rest */
}

int agent_load_auth(const AgentConfig *cfg, bool tls, Auth *ret) {
        _cleanup_(auth_done) Auth a = {};
        _cleanup_free_ char *text = NULL;
        unsigned line = 0;
        size_t size = 0;
        int r;

        r = read_tokens(cfg->tokens, &text, &size);
        if (r == -ENOENT && tls)
                log_info("No tokens file %s: client certificates alone authenticate.", cfg->tokens);
        else if (r == -ENOENT)
                log_warning("No tokens file %s: every request will be refused (401). Create one with "
                            "hostdevd --new-token=ROLE:NAME.", cfg->tokens);
        else if (r == -EPERM || r == -EBADFD)
                return r; /* logged */
        else if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", cfg->tokens);
        else if (strlen(text) != size)
                return log_error_errno(EINVAL, "%s holds a NUL byte: not a tokens file.", cfg->tokens);
        else if ((r = auth_parse_tokens(&a, text, &line)) == -EINVAL)
                return log_error_errno(r, "%s:%u: expected '<role> <sha256 hex> [<name>]'.", cfg->tokens, line);
        else if (r < 0)
                return log_oom();
        else
                log_info("Loaded %zu tokens from %s.", a.n_tokens, cfg->tokens);

        for (char **s = cfg->tls_client_roles; s && *s; s++)
                if (auth_add_subject(&a, *s) < 0)
                        return log_error_errno(EINVAL, "Invalid tls_client_role '%s': expected '<role> <subject DN>'.",
                                               *s);
        *ret = a;
        a = (Auth) {};
        return 0;
}

static const AuthToken *find_token(const Auth *a, const AuthToken *t) {
        for (size_t i = 0; i < a->n_tokens; i++)
                if (memcmp(a->tokens[i].sha256, t->sha256, sizeof t->sha256) == 0)
                        return &a->tokens[i];
        return NULL;
}

/* Names the tokens added, removed, or given another role; never a hash. */
static void log_token_changes(const Auth *old, const Auth *new) {
        for (size_t i = 0; i < new->n_tokens; i++) {
                const AuthToken *t = &new->tokens[i], *o = find_token(old, t);

                if (!o)
                        log_notice("Reload: token '%s' (%s) added.", t->name, role_to_string(t->role));
                else if (o->role != t->role)
                        log_notice("Reload: token '%s' is now %s (was %s).", t->name, role_to_string(t->role),
                                   role_to_string(o->role));
        }
        for (size_t i = 0; i < old->n_tokens; i++)
                if (!find_token(new, &old->tokens[i]))
                        log_notice("Reload: token '%s' (%s) removed.", old->tokens[i].name,
                                   role_to_string(old->tokens[i].role));
}

static void log_key_change(const char *key, const char *old, const char *new, bool reloadable, void *userdata) {
        if (reloadable)
                log_notice("Reload: %s is now '%s' (was '%s').", key, new, old);
        else
                log_warning("Reload: %s is '%s' in the configuration, but a change of it takes effect only when "
                            "the agent restarts: '%s' stays in force.", key, new, old);
}

static int refuse(Reloader *rl) {
        rl->ctx->reloads.refused++;
        rl->ctx->reloads.last_refused = true;
        log_error("Reload refused: the configuration and the tokens in force stay (see the error above).");
        (void) sd_notify(0, "READY=1\nSTATUS=Reload refused: the previous configuration stays in force");
        return 0;
}

static bool still_valid(const char *credential, void *userdata) {
        return credential && auth_credential_valid(userdata, credential);
}

int agent_reload(Reloader *rl) {
        _cleanup_(agent_config_done) AgentConfig next;
        _cleanup_(auth_done) Auth auth = {};
        AgentContext *ctx = rl->ctx;
        size_t n;

        agent_config_init(&next);
        (void) sd_notify(0, "RELOADING=1\nSTATUS=Reloading the configuration");
        log_info("Reload: reading the configuration and the tokens again.");
        if (rl->load(&next, rl->load_userdata) < 0 || agent_load_auth(&next, ctx->tls, &auth) < 0)
                return refuse(rl);

        agent_config_compare(rl->config, &next, log_key_change, NULL);
        log_token_changes(ctx->auth, &auth);
        /* Everything checked: the swap cannot fail. The old tokens go with
         * auth; a request in flight copied the name it needed. */
        SWAP(*ctx->auth, auth);
        agent_config_take_reloadable(rl->config, &next);
        log_set_max_level(rl->config->log_level);
        ctx->rebooter->method = rl->config->reboot_method;
        ctx->rebooter->timeout_usec = (uint64_t) rl->config->reboot_timeout_sec * 1000000ULL;
        n = event_streams_end_unless(ctx->streams, still_valid, ctx->auth);
        if (n > 0)
                log_notice("Reload: ended %zu event streams whose token or certificate no longer has a role.", n);
        ctx->reloads.applied++;
        ctx->reloads.last_refused = false;
        log_info("Reload done: %zu tokens, %zu client certificate subjects.", ctx->auth->n_tokens,
                 ctx->auth->n_subjects);
        (void) sd_notify(0, "READY=1\nSTATUS=Serving (configuration reloaded)");
        return 1;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) agent_reload(userdata);
        return 0;
}

int reloader_start(Reloader *rl, sd_event *event) {
        return sd_event_add_signal(event, &rl->signal, SIGHUP, on_sighup, rl);
}

void reloader_done(Reloader *rl) {
        rl->signal = sd_event_source_disable_unref(rl->signal);
}
