/* The agent's configuration: a file of "key = value" lines ('#' starts a
 * comment), then command-line options over it. Unknown keys are errors: a
 * typo must not silently leave a default in force. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

typedef struct AgentConfig {
        char *listen;
        char *root;
        char *pci_ids;
        int log_level;
        unsigned connection_limit;
        unsigned per_ip_limit;
        unsigned timeout_sec;
        unsigned request_timeout_sec; /* a whole request (headers, body) within this of the connection ready */

        char *state_dir;         /* NULL: var/lib/hostdevd under the root */
        char *tokens;            /* NULL: HOSTDEVD_CONFDIR/tokens under the root */
        bool allow_plain_http;   /* plain HTTP beyond loopback */
        bool run_tools_in_root;  /* the regeneration tool under a --root that is not / (test trees' stand-ins) */
        int reboot_method;       /* RebootMethod */
        unsigned reboot_timeout_sec; /* a reboot not done by then fails */

        char *tls_certificate;   /* PEM: the server's certificate chain */
        char *tls_key;           /* PEM: its private key */
        char *tls_client_ca;     /* PEM: CA(s) that sign client certificates */
        char **tls_client_roles; /* "<role> <subject DN>", repeatable key tls_client_role */

        char *metrics_listen;    /* GET /metrics without credentials there; NULL: no such listener */

        char *uevent_socket;     /* test hook: kernel-format uevents on a datagram socket */
        unsigned uevent_coalesce_msec;
        unsigned uevent_max_delay_msec;
        unsigned consistency_sec; /* 0: no periodic consistency pass */
        unsigned events_ring_size;     /* events kept for Last-Event-ID replay */
        unsigned events_heartbeat_sec; /* a heartbeat comment on every stream this often */
        unsigned events_queue_bytes;   /* unsent bytes one stream may hold before it is ended */
        unsigned events_per_client;    /* streams one client address may hold */
        unsigned events_max_streams;   /* streams in all */
} AgentConfig;

void agent_config_init(AgentConfig *c);
void agent_config_done(AgentConfig *c);

/* The longest configuration file read. */
#define AGENT_CONFIG_FILE_MAX (1024 * 1024)

/* Parses a configuration file's text (split in place). On a bad line
 * returns -EINVAL with *ret_line set. */
int agent_config_parse(AgentConfig *c, char *text, unsigned *ret_line);

/* Sets one key; -EINVAL for an unknown key or a bad value. */
int agent_config_set(AgentConfig *c, const char *key, const char *value);

/* Calls cb for every key whose value differs between a and b, with both
 * values as a log shows them; reloadable says whether a reload applies it
 * (else it needs a restart). */
typedef void (*AgentConfigChange)(const char *key, const char *old, const char *new, bool reloadable,
                                  void *userdata);
void agent_config_compare(const AgentConfig *a, const AgentConfig *b, AgentConfigChange cb, void *userdata);

/* Exchanges the values of the reloadable keys between dst and src: dst
 * gets src's, src keeps dst's old ones (freed with src). */
void agent_config_take_reloadable(AgentConfig *dst, AgentConfig *src);
