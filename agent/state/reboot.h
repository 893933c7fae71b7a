/* Reboot operations: asking for the reboot after the reply has left, and
 * proving it happened once the agent runs again (a new boot id), with what
 * the new boot runs: the kernel arguments that were pending and, when they
 * enable the IOMMU, whether IOMMU groups exist now. */
#pragma once

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "logind.h"
#include "store.h"

typedef enum RebootMethod {
        REBOOT_LOGIND,   /* the default, and the only one a production host should use */
        REBOOT_DIRECT,   /* sync(), then reboot(2): an explicit choice for hosts without logind */
        _REBOOT_METHOD_MAX,
} RebootMethod;

const char *reboot_method_to_string(RebootMethod m);
int reboot_method_from_string(const char *s);

typedef struct Rebooter {
        sd_event *event;
        Store *store;
        RebootMethod method;
        bool may_reboot_directly; /* only when the root is the real host */
        LogindCall *call;
        Operation *op;            /* the operation whose request is in flight */
} Rebooter;

void rebooter_done(Rebooter *rb);

/* Asks for the reboot of op (state ACCEPTED, stored): with logind the
 * operation becomes RUNNING when logind accepts, FAILED with the reason when
 * it refuses or cannot be reached; the agent keeps serving either way. */
void rebooter_start(Rebooter *rb, Operation *op);

/* At start: every unfinished reboot operation is settled against the boot
 * now running. boot_id differs: SUCCEEDED, with which expected arguments run
 * (running_cmdline, /proc/cmdline) and whether the IOMMU is active. Same boot
 * and never asked: FAILED. Same boot and asked: stays RUNNING. */
int reboot_reconcile(Store *store, const char *boot_id, const char *running_cmdline, bool iommu_active,
                     uint64_t now_usec);
