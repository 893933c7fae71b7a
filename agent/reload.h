/* Reloading while serving (SIGHUP, the unit's ExecReload=): the
 * configuration file and the tokens file are read again, whole, and only
 * when both are good does anything change: the tokens and client-certificate
 * roles, the log level and the reboot settings are replaced at once; keys
 * that need a restart (listen, TLS files, state_dir...) are reported, not
 * applied. A broken file is refused with the reason and the old
 * configuration stays in force. systemd hears RELOADING=1, then READY=1. */
#pragma once

#include <systemd/sd-event.h>

#include "agent-config.h"
#include "web/context.h"

/* Reads the configuration as at start (the file, then the command line over
 * it) into an initialised cfg; logs why it cannot. */
typedef int (*ConfigLoader)(AgentConfig *cfg, void *userdata);

typedef struct Reloader {
        AgentConfig *config;  /* in force: its reloadable keys are replaced */
        ConfigLoader load;
        void *load_userdata;
        AgentContext *ctx;    /* auth, rebooter, the reload counters */
        sd_event_source *signal;
} Reloader;

/* Loads the tokens file and the client-certificate roles of cfg into a
 * new *ret (the tokens file may be absent: every request is then refused,
 * or only certificates authenticate, with tls). Logs why it cannot. */
int agent_load_auth(const AgentConfig *cfg, bool tls, Auth *ret);

/* Reloads on SIGHUP from now on (the signal must be blocked). */
int reloader_start(Reloader *rl, sd_event *event);
void reloader_done(Reloader *rl);

/* One reload, as SIGHUP does it: 1 when applied, 0 when refused. */
int agent_reload(Reloader *rl);
