/* A careful evaluator for the assignments in /etc/default/grub and its
 * grub.d drop-ins (POSIX shell fragments that grub-mkconfig sources), and
 * the quoting of values for the drop-in hostdevd writes. Internal. */
#pragma once

#include <stdbool.h>

typedef struct ShellVars ShellVars;

int shell_vars_new(ShellVars **ret);
ShellVars *shell_vars_free(ShellVars *v);
static inline void shell_vars_freep(ShellVars **v) {
        shell_vars_free(*v);
}

/* Evaluates one fragment, statement by statement, into v. -EINVAL (with
 * *ret_error naming file and line) for a statement this evaluator cannot
 * follow safely: then nothing after it can be trusted. Values that need a
 * command substitution or the environment are not an error: the variable
 * becomes unknown (shell_vars_get() says why). */
int shell_eval(ShellVars *v, const char *text, const char *file, char **ret_error);

/* 0 and the value (borrowed), -ENOENT when unset, -EDOM when unknown with
 * *ret_value the reason. */
int shell_vars_get(const ShellVars *v, const char *name, const char **ret_value);

/* value inside double quotes, with \ " $ ` escaped. */
int shell_quote(const char *value, char **ret);
