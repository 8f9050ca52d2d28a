// Thin C layer under BhattiSystem: calls Glibc does not export to Swift, socket address plumbing, and
// fork+exec (nothing may run in Swift between fork and exec). Every function returns a non-negative
// value on success and -errno on failure, unless stated otherwise.
#ifndef BHATTI_SHIM_H
#define BHATTI_SHIM_H
#include <stdint.h>
#include <sys/types.h>

/// Connects a blocking, close-on-exec AF_UNIX stream socket to `path`. Returns the fd.
int bh_unix_connect(const char *path);
/// Binds and listens on `path` (an existing socket file is replaced), then chmods it to `mode`. Returns the fd.
int bh_unix_listen(const char *path, int backlog, unsigned mode);
/// Listens on a numeric IPv4/IPv6 `host` and `port` (0 picks one) with SO_REUSEADDR. Returns the fd.
int bh_tcp_listen(const char *host, int port, int backlog);
/// Connects to a numeric IPv4/IPv6 `host` and `port`, with TCP_NODELAY. Returns the fd.
int bh_tcp_connect(const char *host, int port);
/// The port a listening TCP socket is bound to.
int bh_tcp_local_port(int fd);
/// The peer's IP address as text into buf; -EAFNOSUPPORT for a unix socket.
int bh_peer_address(int fd, char *buf, size_t len);
/// accept4 with SOCK_CLOEXEC. Retries EINTR and ECONNABORTED.
int bh_accept(int fd);
/// pipe2(O_CLOEXEC): fds[0] read end, fds[1] write end.
int bh_pipe(int fds[2]);
/// Sets or clears O_NONBLOCK.
int bh_set_nonblocking(int fd, int on);
/// Fills `buf` from getrandom(2).
int bh_random(void *buf, size_t len);
/// A socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC).
int bh_socketpair(int fds[2]);

/// What the child of bh_spawn does before exec.
typedef struct {
    const char *path;          ///< absolute path of the executable
    char *const *argv;         ///< NULL-terminated
    char *const *envp;         ///< NULL-terminated
    const char *cwd;           ///< NULL: inherit
    int stdin_fd, stdout_fd, stderr_fd;   ///< -1: /dev/null
    int uid, gid;              ///< -1: keep; with uid set, supplementary groups become `groups`
    const unsigned *groups; int ngroups;
    int new_session;           ///< setsid() (also a new process group)
    int new_pgroup;            ///< setpgid(0,0), when not new_session
    int controlling_tty;       ///< setsid() and make stdin (a PTY slave) the controlling terminal
    int pass_fd_given;         ///< non-zero: pass_fd becomes fd 3 in the child (e.g. a tap for QEMU)
    int pass_fd;
    /// Private mount, network and IPC namespaces (before ids are dropped; the network one holds only a
    /// down loopback): a tmpfs over each of `masks` (in order),
    /// then each `bind_sources[i]` (a directory, opened before the masks hide it) bind-mounted on
    /// `bind_targets[i]` (created inside a mask as needed), read-only where `bind_readonly[i]`.
    int new_mount_ns;
    const char *const *masks; int nmasks;
    const char *const *bind_sources; const char *const *bind_targets; const int *bind_readonly; int nbinds;
    /// cgroup v1: `tasks` files the child writes "0" to, first thing. A single-threaded task moving
    /// itself skips the kernel's global threadgroup lock, whose write side waits an RCU grace period
    /// (7–20 ms here); writing the pid to `cgroup.procs` from the parent pays that wait.
    const char *const *join_tasks; int njoin_tasks;
    /// cgroup v2: non-zero: the child is created in the cgroup directory `cgroup_fd` (clone3 with
    /// CLONE_INTO_CGROUP, no migration at all). -ENOSYS where the kernel lacks it (before 5.7).
    int cgroup_fd_given;
    int cgroup_fd;
} bh_spawn_opts;

/// Opens tap `name` in the network namespace at `netns_path` (creating it if absent, IFF_TAP|IFF_NO_PI),
/// from a short-lived thread that enters the namespace, so the caller's namespace is untouched. The fd
/// (close-on-exec) stays bound to the tap in that namespace. Returns the fd or -errno.
int bh_tap_open(const char *netns_path, const char *name);
/// A non-blocking socket bound to host:port inside the network namespace at `netns_path` (stream: a
/// listening TCP socket, else UDP), made on a thread of its own; -errno on failure.
int bh_netns_bind(const char *netns_path, int stream, const char *host, int port);

/// Forks and execs. The child resets signal dispositions and mask, moves the given fds to 0/1/2, closes
/// every other fd, and applies cwd/ids/session. If anything fails before exec, the parent gets -errno of
/// that step (the child reports it through a close-on-exec pipe); otherwise the child's pid.
pid_t bh_spawn(const bh_spawn_opts *opts);

/// sync() then reboot(RB_POWER_OFF). Only returns on failure.
int bh_poweroff(void);
/// mount(2).
int bh_mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data);
/// sethostname(2).
int bh_sethostname(const char *name);
/// Kernel boot id as 36 chars + NUL into buf (from /proc/sys/kernel/random/boot_id).
int bh_boot_id(char *buf, size_t len);

#endif

/// Sets IFF_UP on interface `name` (e.g. "lo").
int bh_if_up(const char *name);
/// Installs SIGTERM/SIGINT handlers that sync() and power off: what PID 1 does on a clean shutdown.
int bh_poweroff_on_sigterm(void);
/// Ignores SIGPIPE process-wide: a vanished peer shows up as EPIPE instead.
void bh_ignore_sigpipe(void);
/// Routes `sig` to a pipe (the self-pipe trick): the handler writes the signal number as one byte
/// to the returned read end's pipe. Works whatever the threads' signal masks are, unlike sigwait.
/// Returns the read end (blocking, close-on-exec).
int bh_signal_pipe(int sig);

/// Opens a pseudo-terminal: fds[0] the master, fds[1] the slave (both close-on-exec, neither becomes
/// the caller's controlling terminal), with the window size set to rows x cols.
int bh_openpty(int fds[2], unsigned short rows, unsigned short cols);
/// TIOCSWINSZ: sets a terminal's window size (the foreground process group gets SIGWINCH).
int bh_set_winsize(int fd, unsigned short rows, unsigned short cols);
/// The foreground process group of the terminal behind `fd` (a PTY master works).
int bh_foreground_pgrp(int fd);
/// dup with close-on-exec. Returns the new fd.
int bh_dup_cloexec(int fd);
/// A close-on-exec eventfd starting at 0 (a wake-up that, unlike a pipe, cannot raise SIGPIPE).
int bh_eventfd(void);

#include "bhatti_pidfd.h"
#include "bhatti_fdpass.h"
#include "bhatti_copy.h"
#include "bhatti_xattr.h"
