/* Reboot operations: see reboot.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/macro.h"
#include "kernel-cmdline/kcmdline.h"
#include "reboot.h"

static const char *const reboot_methods[_REBOOT_METHOD_MAX] = {
        [REBOOT_LOGIND] = "logind",
        [REBOOT_DIRECT] = "direct",
};

const char *reboot_method_to_string(RebootMethod m) {
        return m < _REBOOT_METHOD_MAX ? reboot_methods[m] : NULL;
}

int reboot_method_from_string(const char *s) {
        for (int i = 0; i < _REBOOT_METHOD_MAX; i++)
                if (streq(s, reboot_methods[i]))
                        return i;
        return -EINVAL;
}

static void settle(Rebooter *rb, Operation *op, OperationState state, const char *error) {
        int r;

        op->state = state;
        op->updated_usec = now_realtime_usec();
        free(op->error);
        op->error = error ? strdup(error) : NULL;
        r = store_save_operation(rb->store, op);
        if (r < 0)
                log_error_errno(r, "Cannot record the state of operation %s: %m", op->id);
}

static void on_logind(int error, const char *message, void *userdata) {
        Rebooter *rb = userdata;
        Operation *op = rb->op;

        rb->op = NULL;
        if (!op)
                return;
        if (error < 0) {
                log_error("Reboot operation %s failed: %s", op->id, message);
                settle(rb, op, OPERATION_FAILED, message);
                return;
        }
        log_notice("Reboot operation %s: the host is rebooting (boot %s).", op->id, strempty(op->boot_id_before));
        settle(rb, op, OPERATION_RUNNING, NULL);
}

void rebooter_start(Rebooter *rb, Operation *op) {
        _cleanup_free_ char *message = NULL;
        int r;

        free(op->method);
        op->method = strdup(reboot_method_to_string(rb->method));
        if (rb->method == REBOOT_DIRECT) {
                if (!rb->may_reboot_directly) {
                        settle(rb, op, OPERATION_FAILED, "a direct reboot is only possible on the real host (root /)");
                        return;
                }
                /* Recorded before the machine goes: the next start settles it. */
                settle(rb, op, OPERATION_RUNNING, NULL);
                log_notice("Reboot operation %s: rebooting directly (reboot_method=direct).", op->id);
                sync();
                if (reboot(RB_AUTOBOOT) < 0) {
                        r = -errno;
                        log_error_errno(r, "reboot(2) failed: %m");
                        settle(rb, op, OPERATION_FAILED, "reboot(2) failed");
                }
                return;
        }

        rb->call = logind_call_free(rb->call);
        rb->op = op;
        r = logind_reboot(rb->event, on_logind, rb, &rb->call, &message);
        if (r < 0) {
                rb->op = NULL;
                log_error_errno(r, "Reboot operation %s failed: %s", op->id, strempty(message));
                settle(rb, op, OPERATION_FAILED, message ?: "cannot reach logind");
        }
}

void rebooter_done(Rebooter *rb) {
        rb->call = logind_call_free(rb->call);
        rb->op = NULL;
}

static bool argument_runs(const KCmdline *running, const char *argument) {
        _cleanup_(kcmdline_freep) KCmdline *want = NULL;

        if (!running || kcmdline_parse(argument, &want) < 0 || want->n_args != 1)
                return false;
        return kcmdline_has(running, want->args[0].key, want->args[0].value);
}

int reboot_reconcile(Store *store, const char *boot_id, const char *running_cmdline, bool iommu_active,
                     uint64_t now_usec) {
        _cleanup_(kcmdline_freep) KCmdline *running = NULL;
        int r;

        if (running_cmdline && kcmdline_parse(running_cmdline, &running) < 0)
                running = NULL;

        for (size_t i = 0; i < store->n_operations; i++) {
                Operation *op = store->operations[i];

                if (!streq(op->kind, "reboot") || operation_is_done(op))
                        continue;
                if (boot_id && op->boot_id_before && !streq(boot_id, op->boot_id_before)) {
                        op->state = OPERATION_SUCCEEDED;
                        op->boot_id_after = strdup(boot_id);
                        if (!op->boot_id_after)
                                return -ENOMEM;
                        for (size_t j = 0; j < op->n_expected; j++)
                                op->expected[j].running = argument_runs(running, op->expected[j].argument);
                        op->iommu_active = iommu_active;
                        log_notice("Reboot operation %s completed: boot %s, then %s.", op->id,
                                   op->boot_id_before, boot_id);
                } else if (op->state == OPERATION_ACCEPTED) {
                        op->state = OPERATION_FAILED;
                        free(op->error);
                        op->error = strdup("the agent stopped before it asked for the reboot");
                        log_warning("Reboot operation %s never started: marked failed.", op->id);
                } else
                        continue;
                op->updated_usec = now_usec;
                r = store_save_operation(store, op);
                if (r < 0)
                        return log_error_errno(r, "Cannot record operation %s: %m", op->id);
        }
        return 0;
}
