#define _GNU_SOURCE
#include "once_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

static struct sigaction saved[NSIG];
static int saved_valid[NSIG];

void once_signals_save(void) {
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        if (sigaction(s, NULL, &saved[s]) == 0) saved_valid[s] = 1;
    }
}

void once_signal_ignore(int sig) { signal(sig, SIG_IGN); }

static int foreground_terminal(void) {
    if (!isatty(0)) return 0;
    pid_t fg = tcgetpgrp(0);
    return fg != -1 && fg == getpgrp();
}

/// The guard: a forked copy of once-exec that does nothing but wait. It gets a parent-death
/// signal, so when once-exec dies (even of SIGKILL) it kills COMMAND's whole process group,
/// grandchildren included; the child's own PDEATHSIG only reaches the direct child. It sits in
/// a process group of its own, so a kill of once-exec's group does not take it along.
static pid_t spawn_guard(pid_t group, pid_t parent) {
    pid_t g = fork();
    if (g != 0) return g;  // parent (or -1: run without a guard)
    // Guard: async-signal-safe calls only. All signals are still blocked (the caller blocked
    // them before forking), so the death signal is only ever taken by sigwait.
    setpgid(0, 0);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
#endif
    if (getppid() != parent) {  // once-exec died before prctl took effect
        kill(-group, SIGKILL);
        _exit(0);
    }
    // Hold none of once-exec's files: a pipe kept open here would delay its readers' EOF.
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0)
#endif
        for (int fd = 3; fd < 65536; fd++) close(fd);
    sigset_t death;
    sigemptyset(&death);
    sigaddset(&death, SIGUSR1);
    int sig;
    while (sigwait(&death, &sig) != 0) {}
    kill(-group, SIGKILL);
    _exit(0);
}

void once_guard_dismiss(pid_t guard) {
    if (guard <= 0) return;
    kill(guard, SIGKILL);
    int status;
    while (waitpid(guard, &status, 0) < 0 && errno == EINTR) {}
}

pid_t once_spawn(const char *path, char *const argv[], char *const envp[], int stdout_fd, int stderr_fd,
                 int take_terminal, pid_t *guard, int *error) {
    *guard = -1;
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *error = errno;
        return -1;
    }
    int terminal = take_terminal && foreground_terminal();
    pid_t parent = getpid();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        // Child: only async-signal-safe calls from here to exec.
        setpgid(0, 0);
        if (terminal) tcsetpgrp(0, getpid());  // SIGTTOU is blocked, so this cannot stop us
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(128 + SIGKILL);  // the wrapper died before prctl
#endif
        for (int s = 1; s < NSIG; s++) {
            if (s == SIGKILL || s == SIGSTOP) continue;
            if (saved_valid[s]) {
                struct sigaction sa = saved[s];
                // A handler address means nothing after exec; the default is what exec would give.
                if (sa.sa_handler != SIG_IGN) {
                    memset(&sa, 0, sizeof sa);
                    sa.sa_handler = SIG_DFL;
                }
                sigaction(s, &sa, NULL);
            } else {
                signal(s, SIG_DFL);
            }
        }
        if (stdout_fd >= 0) dup2(stdout_fd, 1);
        if (stderr_fd >= 0) dup2(stderr_fd, 2);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(path, argv, envp);
        int e = errno;
        ssize_t ignored = write(report[1], &e, sizeof e);
        (void)ignored;
        _exit(127);
    }
    int fork_errno = errno;
    if (pid > 0) {
        // Also from the parent, so the group exists before we ever signal it (or the guard does).
        setpgid(pid, pid);
        *guard = spawn_guard(pid, parent);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        *error = fork_errno;
        return -1;
    }
    if (terminal) {
        signal(SIGTTOU, SIG_IGN);
        tcsetpgrp(0, pid);
    }
    int e = 0;
    ssize_t n;
    do {
        n = read(report[0], &e, sizeof e);
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof e) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        once_guard_dismiss(*guard);
        *guard = -1;
        if (terminal) once_terminal_reclaim();
        *error = e;
        return -1;
    }
    return pid;
}

void once_terminal_reclaim(void) {
    if (!isatty(0)) return;
    pid_t fg = tcgetpgrp(0);
    if (fg == -1 || fg == getpgrp()) return;
    // Take it back only while we still own the session foreground: a child may have moved it.
    void (*previous)(int) = signal(SIGTTOU, SIG_IGN);
    tcsetpgrp(0, getpgrp());
    signal(SIGTTOU, previous);
}

int once_wait(pid_t pid) {
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, 0);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
    }
}

int once_wifsignaled(int status) { return WIFSIGNALED(status); }
int once_wtermsig(int status) { return WTERMSIG(status); }
int once_wifexited(int status) { return WIFEXITED(status); }
int once_wexitstatus(int status) { return WEXITSTATUS(status); }

void once_drain(int from, int to) {
    pid_t pid = fork();
    if (pid != 0) return;  // parent, or -1: no drain (the helper may then get SIGPIPE)
    // Drain: async-signal-safe calls only. SIGPIPE as it would be without once-exec: if the
    // reader downstream goes away, the drain dies and the helper gets SIGPIPE itself.
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (from != 3) {
        dup2(from, 3);
        from = 3;
    }
    // Hold only the pipe and the target: a kept stdin or other stream would hold up its reader.
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        if (to != 1) dup2(null, 1);
        if (to != 2) dup2(null, 2);
    }
    if (to > 2) {  // keep the target too
        dup2(to, 4);
        to = 4;
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, to == 4 ? 5 : 4, ~0U, 0) != 0)
#endif
        for (int fd = to == 4 ? 5 : 4; fd < 65536; fd++) close(fd);
    char buffer[65536];
    for (;;) {
        ssize_t n = read(from, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = write(to, buffer + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) _exit(0);
            off += w;
        }
    }
    _exit(0);
}
