#ifndef ONCE_SPAWN_H
#define ONCE_SPAWN_H

#include <sys/types.h>

/// Remembers the current dispositions of the signals once-exec is about to take over, so the
/// child can get the ones the user gave us (an ignored SIGHUP under nohup stays ignored).
void once_signals_save(void);

/// Ignores `sig` in once-exec itself (a DispatchSource then observes it).
void once_signal_ignore(int sig);

/// Spawns `path` with `argv`/`envp` as the leader of a new process group.
///
/// In the child, before exec: its own process group; the terminal handed to that group when
/// `take_terminal` is set and fd 0 is our controlling terminal in the foreground; a
/// parent-death signal (SIGKILL) so it never outlives a killed wrapper; the signal mask
/// cleared and the saved dispositions restored; `stdout_fd`/`stderr_fd` dup'ed onto 1 and 2
/// when not -1.
///
/// Also starts a guard process (`*guard`, -1 if none) that kills the child's whole process
/// group if once-exec dies; end it with `once_guard_dismiss` once the child was reaped.
///
/// Returns the pid, or -1 with `*error` set to the errno of the failed step (exec errors
/// included: they are reported through a close-on-exec pipe, so ENOENT is not a child exit).
pid_t once_spawn(const char *path, char *const argv[], char *const envp[], int stdout_fd, int stderr_fd,
                 int take_terminal, pid_t *guard, int *error);

/// Ends the guard of a child that exited normally (its leftover group members live on).
void once_guard_dismiss(pid_t guard);

/// Forks a process that copies `from` to `to` until EOF, then exits: it takes over a capture
/// pipe that a background helper of COMMAND still holds when once-exec is done with it.
void once_drain(int from, int to);

/// Gives the terminal on fd 0 back to once-exec's own process group, if it has one.
void once_terminal_reclaim(void);

/// Blocks until `pid` exits; returns its raw wait status, or -1.
int once_wait(pid_t pid);

/// The wait-status macros, which Swift cannot import.
int once_wifsignaled(int status);
int once_wtermsig(int status);
int once_wifexited(int status);
int once_wexitstatus(int status);

#endif
