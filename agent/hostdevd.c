#include "basic/log.h"
int main(void) { log_open(); return 0; }
