/* Writing a planned kernel command-line change: see kcmdline-apply.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "kcmdline-apply.h"

void kc_apply_done(KcApply *a) {
        bootloader_free(a->bootloader);
        boot_plan_free(a->plan);
        boot_ledger_free(a->ledger);
        kcmdline_free(a->running);
        strv_free(a->warnings);
        free(a->error_message);
        boot_regen_result_free(a->regen);
        kc_state_done(&a->now);
        *a = (KcApply) {};
}

/* Reports "what" (and arg, when given) as a step. */
static void report(KcStepFn step, void *userdata, const char *what, const char *arg) {
        _cleanup_free_ char *s = NULL;

        if (step && asprintf(&s, "%s%s%s", what, arg ? " " : "", strempty(arg)) >= 0)
                step(s, userdata);
}

/* The ledger as it is after the plan, in *ret; NULL when the plan changes
 * no ownership. */
static int ledger_after(const KcApply *a, BootLedger **ret) {
        _cleanup_(boot_ledger_freep) BootLedger *l = NULL;
        int k;

        *ret = NULL;
        if (!a->ledger || (strv_length(a->plan->owned_added) == 0 && strv_length(a->plan->owned_removed) == 0))
                return 0;
        l = calloc(1, sizeof(BootLedger));
        if (!l)
                return -ENOMEM;
        k = strv_copy(a->ledger->owned, &l->owned);
        if (k >= 0)
                k = boot_ledger_record(l, a->plan);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(l);
        return 0;
}

static int regenerate(KcApply *a, KcStepFn step, void *userdata) {
        const char *tool = bootloader_regen_tool(a->bootloader);
        int k;

        if (tool)
                report(step, userdata, "running", tool);
        k = bootloader_regenerate(a->bootloader, a->regen_flags, &a->regen);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return strv_extendf(&a->warnings, "the bootloader's regeneration tool could not be run (%s): run it "
                                    "by hand", strerror(-k));
        if (a->regen->ran && a->regen->exit_status != 0)
                return strv_extendf(&a->warnings, "'%s' failed (exit status %d): run it by hand once the cause is "
                                    "fixed", strempty(a->regen->command), a->regen->exit_status);
        return 0;
}

int kc_apply(const HostRoot *root, KcApply *a, KcStepFn step, void *userdata) {
        _cleanup_(boot_ledger_freep) BootLedger *ledger = NULL;
        _cleanup_free_ char *files = NULL;
        char **paths = NULL;
        int k;

        for (size_t i = 0; i < a->plan->n_files; i++)
                if (strv_extend(&paths, a->plan->files[i].display_path) < 0) {
                        strv_free(paths);
                        return -ENOMEM;
                }
        files = strv_join(paths, ", ");
        strv_free(paths);
        k = ledger_after(a, &ledger);
        if (k < 0)
                return k;
        report(step, userdata, ledger ? "writing the bootloader files and the ledger of the arguments hostdevd "
                                        "added" : "writing the bootloader files", files);
        /* The ledger goes with the files: both written, or both as they were. */
        k = bootloader_apply_recorded(root, a->plan, ledger, &a->error_message);
        if (k == -ENOMEM && !a->error_message)
                return k;
        if (k < 0) {
                a->error = k;
                return 0;
        }
        if (ledger) {
                boot_ledger_free(a->ledger);
                a->ledger = TAKE_PTR(ledger);
        }
        a->ledger_saved = true;
        k = regenerate(a, step, userdata);
        if (k >= 0) {
                report(step, userdata, "reading the kernel command line back", NULL);
                k = kc_state_load(root, &a->now);
        }
        return k;
}

const KCmdline *kc_apply_configured(const KcApply *a) {
        return a->now.config ? a->now.config->configured : a->plan->after;
}
