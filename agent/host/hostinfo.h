/* Identity of the host: names and ids a manager keys hosts by, the running
 * kernel and CPU. Read from files under the host root on every call (uptime
 * moves); a file that is missing or unreadable leaves its field NULL. */
#pragma once

#include <stdbool.h>

#include "basic/hostroot.h"

typedef struct HostInfo {
        char *hostname;
        char *host_id;        /* DMI product UUID where usable, else machine-id */
        const char *host_id_source; /* "dmi-product-uuid", "machine-id" or NULL */
        char *machine_id;
        char *boot_id;
        char *kernel_release;
        char *cmdline;        /* /proc/cmdline without its newline */
        char *cpu_vendor;     /* "GenuineIntel", "AuthenticAMD" */
        char *cpu_model;
        char *cpu_flags;      /* the flags line, for capability checks */
        int n_cpus;           /* processors listed, 0 when unknown */
        bool has_uptime;
        double uptime_sec;
} HostInfo;

int hostinfo_read(const HostRoot *root, HostInfo *ret);
void hostinfo_done(HostInfo *h);

/* True when a CPU flags line holds the flag as a whole word. */
bool cpu_flags_has(const char *flags, const char *flag);
