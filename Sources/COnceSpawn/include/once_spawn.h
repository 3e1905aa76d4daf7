#ifndef ONCE_SPAWN_H
#define ONCE_SPAWN_H
#include <sys/types.h>
int once_spawn_placeholder(void);
#endif
