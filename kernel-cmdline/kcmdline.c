/* Placeholder until the parser lands. */
#include "kcmdline.h"
