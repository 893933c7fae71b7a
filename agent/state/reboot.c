/* Reboot operations: see reboot.h. */
#include <stdio.h>
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

#define REBOOT_TIMEOUT_DEFAULT_USEC (600ULL * 1000000ULL)

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Rebooter *rb = userdata;
        Operation *op = rb->timer_op ? store_find_operation(rb->store, rb->timer_op) : NULL;
        _cleanup_free_ char *why = NULL;

        (void) s, (void) usec;
        rb->timer = sd_event_source_disable_unref(rb->timer);
        free(rb->timer_op);
        rb->timer_op = NULL;
        if (!op || op->state != OPERATION_RUNNING)
                return 0;
        if (asprintf(&why, "the reboot did not happen within %llu seconds of being asked for: it was "
                     "inhibited, cancelled or is stuck; POST /v1/reboot again to retry",
                     (unsigned long long) (rb->timeout_usec ?: REBOOT_TIMEOUT_DEFAULT_USEC) / 1000000ULL) < 0)
                why = NULL;
        log_error("Reboot operation %s failed: %s", op->id, why ?: "timed out");
        settle(rb, op, OPERATION_FAILED, why ?: "the reboot did not happen in time");
        return 0;
}

/* op has just become RUNNING: it fails if the machine is still up after the timeout. */
static void arm_timeout(Rebooter *rb, const Operation *op) {
        int r;

        rb->timer = sd_event_source_disable_unref(rb->timer);
        free(rb->timer_op);
        rb->timer_op = strdup(op->id);
        if (!rb->timer_op || !rb->event)
                return;
        r = sd_event_add_time_relative(rb->event, &rb->timer, CLOCK_MONOTONIC,
                                       rb->timeout_usec ?: REBOOT_TIMEOUT_DEFAULT_USEC, 0, on_timeout, rb);
        if (r < 0)
                log_warning_errno(r, "Cannot arm the timeout of reboot operation %s: %m", op->id);
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
        arm_timeout(rb, op);
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
                arm_timeout(rb, op);
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
        rb->timer = sd_event_source_disable_unref(rb->timer);
        free(rb->timer_op);
        rb->timer_op = NULL;
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
                } else if (boot_id && op->boot_id_before) { /* RUNNING, and this is the same boot */
                        op->state = OPERATION_FAILED;
                        free(op->error);
                        op->error = strdup("the agent restarted in the same boot: the reboot was inhibited, "
                                           "cancelled or never happened");
                        log_warning("Reboot operation %s: still boot %s, the reboot did not happen: marked failed.",
                                    op->id, boot_id);
                } else
                        continue;
                op->updated_usec = now_usec;
                r = store_save_operation(store, op);
                if (r < 0)
                        return log_error_errno(r, "Cannot record operation %s: %m", op->id);
        }
        return 0;
}
