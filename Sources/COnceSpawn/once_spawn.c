#include "once_spawn.h"
int once_spawn_placeholder(void) { return 0; }
