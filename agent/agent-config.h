/* The agent's configuration: a file of "key = value" lines ('#' starts a
 * comment), then command-line options over it. Unknown keys are errors: a
 * typo must not silently leave a default in force. */
#pragma once

#include <stdbool.h>

typedef struct AgentConfig {
        char *listen;
        char *root;
        char *pci_ids;
        int log_level;
        unsigned connection_limit;
        unsigned per_ip_limit;
        unsigned timeout_sec;
} AgentConfig;

void agent_config_init(AgentConfig *c);
void agent_config_done(AgentConfig *c);

/* Reads a configuration file; -ENOENT when it does not exist. On a bad line
 * returns -EINVAL with *ret_line set. */
int agent_config_load(AgentConfig *c, const char *path, unsigned *ret_line);

/* Sets one key; -EINVAL for an unknown key or a bad value. */
int agent_config_set(AgentConfig *c, const char *key, const char *value);
