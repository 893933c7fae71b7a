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
        uint64_t timeout_usec;    /* a RUNNING reboot still here by then fails (0: 600 s) */
        sd_event_source *timer;   /* armed while a reboot is RUNNING */
        char *timer_op;           /* the id of that operation */
} Rebooter;

void rebooter_done(Rebooter *rb);

/* Asks for the reboot of op (state ACCEPTED, stored): with logind the
 * operation becomes RUNNING when logind accepts, FAILED with the reason when
 * it refuses or cannot be reached; the agent keeps serving either way. A
 * RUNNING operation that is still here (the machine did not go down) after
 * timeout_usec is FAILED by a timer on the loop. */
void rebooter_start(Rebooter *rb, Operation *op);

/* At start: every unfinished reboot operation is settled against the boot
 * now running. boot_id differs: SUCCEEDED, with which expected arguments run
 * (running_cmdline, /proc/cmdline) and whether the IOMMU is active. Same boot
 * (asked or not): FAILED with the reason, since the agent that asked is gone
 * and the machine never went down. No boot id: left alone. */
int reboot_reconcile(Store *store, const char *boot_id, const char *running_cmdline, bool iommu_active,
                     uint64_t now_usec);
