#define _GNU_SOURCE
#include "bhatti_shim.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>

static int fill_un(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a->sun_path) return -ENAMETOOLONG;
    strcpy(a->sun_path, path);
    return 0;
}

int bh_unix_connect(const char *path) {
    struct sockaddr_un a; int rc = fill_un(&a, path);
    if (rc < 0) return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    while (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (errno == EINTR) continue;
        int e = errno; close(fd); return -e;
    }
    return fd;
}

int bh_unix_listen(const char *path, int backlog, unsigned mode) {
    struct sockaddr_un a; int rc = fill_un(&a, path);
    if (rc < 0) return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    unlink(path);
    // Create the socket file with the final mode: no window in which it is reachable with wider access.
    // Linux takes the new file's mode from the socket inode (masked by the umask), so fchmod first. Not
    // umask(): that is process-wide, and a child spawned meanwhile (cc, QEMU) inherited 0177.
    if (fchmod(fd, mode) < 0) { int e = errno; close(fd); return -e; }
    rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    if (rc < 0 || chmod(path, mode) < 0 || listen(fd, backlog) < 0) { int e = errno; close(fd); return -e; }
    return fd;
}

static int fill_inet(struct sockaddr_storage *ss, socklen_t *len, const char *host, int port) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET; v4->sin_port = htons((uint16_t)port); *len = sizeof *v4; return AF_INET;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6; v6->sin6_port = htons((uint16_t)port); *len = sizeof *v6; return AF_INET6;
    }
    return -EINVAL;
}

int bh_tcp_listen(const char *host, int port, int backlog) {
    struct sockaddr_storage ss; socklen_t len;
    int fam = fill_inet(&ss, &len, host, port);
    if (fam < 0) return fam;
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) { int e = errno; close(fd); return -e; }
    return fd;
}

int bh_tcp_connect(const char *host, int port) {
    struct sockaddr_storage ss; socklen_t len;
    int fam = fill_inet(&ss, &len, host, port);
    if (fam < 0) return fam;
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    while (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        if (errno == EINTR) continue;
        int e = errno; close(fd); return -e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int bh_tcp_local_port(int fd) {
    struct sockaddr_storage ss; socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -errno;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

int bh_accept(int fd) {
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) {
            int one = 1;   // harmless ENOTSUP on unix sockets
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return c;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return -errno;
    }
}

int bh_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0; }
int bh_socketpair(int fds[2]) { return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 ? -errno : 0; }

int bh_set_nonblocking(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -errno;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

int bh_random(void *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom((char *)buf + got, len - got, 0);
        if (n < 0) { if (errno == EINTR) continue; return -errno; }
        got += (size_t)n;
    }
    return 0;
}

/* Child side: only async-signal-safe calls from here to exec. */
static void child_fail(int errfd, int err) {
    ssize_t r = write(errfd, &err, sizeof err); (void)r;
    _exit(127);
}

static int move_fd(int fd, int target, int errfd) {
    if (fd == target) { int fl = fcntl(fd, F_GETFD); return fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC); }
    if (fd < 0) {
        int n = open("/dev/null", O_RDWR);
        if (n < 0) child_fail(errfd, errno);
        if (n != target) { if (dup2(n, target) < 0) child_fail(errfd, errno); close(n); }
        return 0;
    }
    return dup2(fd, target);
}

/// mkdir -p with 0755 directories (the caller has set umask 022). No allocation: runs in a forked child.
static int make_path(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -errno;
        buf[i] = c;
    }
    return 0;
}

#define BH_MAX_BINDS 16

/// The mount jail of bh_spawn_opts, applied in the child. Returns 0 or -errno.
static int enter_mount_jail(const bh_spawn_opts *o) {
    if (o->nbinds > BH_MAX_BINDS) return -EINVAL;
    // Its own mount namespace, and empty network and IPC ones: QEMU gets its tap as an open fd and
    // talks to the daemon over path-named unix sockets, so it needs no network of its own (and must not
    // reach the host's loopback services).
    if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC) < 0) return -errno;
    // Nothing mounted here propagates back to the host's namespace.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return -errno;
    // Opened in the new namespace (a bind's source must be one of its mounts), before the masks hide them.
    int fds[BH_MAX_BINDS];
    for (int i = 0; i < o->nbinds; i++) {
        fds[i] = open(o->bind_sources[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fds[i] < 0) return -errno;
    }
    mode_t old = umask(022);
    for (int i = 0; i < o->nmasks; i++) {
        if (mount("tmpfs", o->masks[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") < 0) return -errno;
    }
    for (int i = 0; i < o->nbinds; i++) {
        int r = make_path(o->bind_targets[i]);
        if (r < 0) return r;
        // "/proc/self/fd/N" without stdio (not async-signal-safe after fork).
        char src[32] = "/proc/self/fd/", digits[12];
        int nd = 0, v = fds[i];
        do { digits[nd++] = (char)('0' + v % 10); v /= 10; } while (v > 0);
        size_t at = strlen(src);
        while (nd > 0) src[at++] = digits[--nd];
        src[at] = 0;
        if (mount(src, o->bind_targets[i], NULL, MS_BIND | MS_REC, NULL) < 0) return -errno;
        unsigned long ro = o->bind_readonly && o->bind_readonly[i] ? MS_RDONLY : 0;
        if (mount(NULL, o->bind_targets[i], NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | ro, NULL) < 0) return -errno;
        close(fds[i]);
    }
    umask(old);
    return 0;
}

/// fork(), but the child starts life in the cgroup v2 directory `cgroup_fd`. Returns as fork does
/// (errno set on failure).
static pid_t clone_into_cgroup(int cgroup_fd) {
#ifdef SYS_clone3
    struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup; } args;
    memset(&args, 0, sizeof args);
    args.flags = 0x200000000ULL;   // CLONE_INTO_CGROUP (linux/sched.h, 5.7)
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)cgroup_fd;
    return (pid_t)syscall(SYS_clone3, &args, sizeof args);
#else
    (void)cgroup_fd;
    errno = ENOSYS;
    return -1;
#endif
}

struct spawn_child_args { const bh_spawn_opts *o; int errfd; };

/// The child's half of bh_spawn, up to exec. It may share the parent's memory (CLONE_VM): no
/// allocation, no libc state, only system calls; ids change through raw syscalls, because glibc's
/// setuid() would broadcast the change to every thread it believes this process has: the parent's.
static int spawn_child(void *arg) {
    const bh_spawn_opts *o = ((struct spawn_child_args *)arg)->o;
    int errfd = ((struct spawn_child_args *)arg)->errfd;
    // Handlers first, while every signal is still blocked (the parent blocked them around clone):
    // a handler of the parent must never run here on its memory.
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigset_t none; sigemptyset(&none); sigprocmask(SIG_SETMASK, &none, NULL);
    for (int i = 0; i < o->njoin_tasks; i++) {
        int fd = open(o->join_tasks[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) child_fail(errfd, errno);
        close(fd);
    }
    if (o->new_session || o->controlling_tty) { if (setsid() < 0) child_fail(errfd, errno); }
    else if (o->new_pgroup) { if (setpgid(0, 0) < 0) child_fail(errfd, errno); }
    // The passed fd first, well above the range the moves below touch.
    int pass = o->pass_fd_given ? fcntl(o->pass_fd, F_DUPFD_CLOEXEC, 64) : -1;
    if (o->pass_fd_given && pass < 0) child_fail(errfd, errno);
    // stdio: take copies first so that (say) stdout_fd == 0 survives the dup2 onto 0.
    int in = o->stdin_fd >= 0 ? fcntl(o->stdin_fd, F_DUPFD_CLOEXEC, 3) : -1;
    int out = o->stdout_fd >= 0 ? fcntl(o->stdout_fd, F_DUPFD_CLOEXEC, 3) : -1;
    int err = o->stderr_fd >= 0 ? fcntl(o->stderr_fd, F_DUPFD_CLOEXEC, 3) : -1;
    if (move_fd(in, 0, errfd) < 0 || move_fd(out, 1, errfd) < 0 || move_fd(err, 2, errfd) < 0)
        child_fail(errfd, errno);
    /* Before ids are dropped: the new session's controlling terminal is stdin (a PTY slave). */
    if (o->controlling_tty && ioctl(0, TIOCSCTTY, 0) < 0) child_fail(errfd, errno);
    if (o->new_mount_ns) { int r = enter_mount_jail(o); if (r < 0) child_fail(errfd, -r); }
    if (o->gid >= 0) {
        if (syscall(SYS_setgroups, (size_t)o->ngroups, (const gid_t *)o->groups) < 0) child_fail(errfd, errno);
        if (syscall(SYS_setgid, (gid_t)o->gid) < 0) child_fail(errfd, errno);
    }
    if (o->uid >= 0 && syscall(SYS_setuid, (uid_t)o->uid) < 0) child_fail(errfd, errno);
    if (o->cwd && chdir(o->cwd) < 0) child_fail(errfd, errno);
    if (pass >= 0) {
        if (errfd == 3) {
            int moved = fcntl(errfd, F_DUPFD_CLOEXEC, 4);
            if (moved < 0) child_fail(errfd, errno);
            errfd = moved;
        }
        if (dup2(pass, 3) < 0) child_fail(errfd, errno);   // dup2 clears close-on-exec on 3
    }
    // Everything above 2 except the error pipe (and a passed fd at 3) goes.
    for (int fd = pass >= 0 ? 4 : 3; fd < 1024; fd++) if (fd != errfd) close(fd);
    syscall(SYS_close_range, 1024, ~0U, 0);
    execve(o->path, o->argv, o->envp);
    child_fail(errfd, errno);
    return 0;
}

/// The child's stack when it shares the parent's memory (make_path alone keeps 4 KiB on it).
#define BH_CHILD_STACK (256 * 1024)

pid_t bh_spawn(const bh_spawn_opts *o) {
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0) return -errno;
    // Move the error pipe above the stdio range so dup2 onto 0..2 cannot clobber it.
    if (ep[1] < 3) {
        int n = fcntl(ep[1], F_DUPFD_CLOEXEC, 3);
        if (n < 0) { int e = errno; close(ep[0]); close(ep[1]); return -e; }
        close(ep[1]); ep[1] = n;
    }
    struct spawn_child_args args = { o, ep[1] };
    // No signal may reach the child before it has reset the handlers (see spawn_child).
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid;
    int e = 0;
    if (o->cgroup_fd_given) {
        // clone3 cannot run a function on a new stack from C: this child is a plain copy.
        pid = clone_into_cgroup(o->cgroup_fd);
        if (pid == 0) { spawn_child(&args); _exit(127); }
        if (pid < 0) e = errno;
    } else {
        // Like posix_spawn: the child borrows the parent's memory until it execs (no page tables to
        // copy, which for a large parent costs milliseconds and more under emulation); this thread
        // waits meanwhile (CLONE_VFORK).
        void *stack = mmap(NULL, BH_CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED) {
            e = errno; pid = -1;
        } else {
            pid = clone(spawn_child, (char *)stack + BH_CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
            if (pid < 0) e = errno;
            munmap(stack, BH_CHILD_STACK);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) { close(ep[0]); close(ep[1]); return -e; }
    close(ep[1]);
    int childerr = 0;
    ssize_t n;
    do { n = read(ep[0], &childerr, sizeof childerr); } while (n < 0 && errno == EINTR);
    close(ep[0]);
    if (n == (ssize_t)sizeof childerr) {
        int st; while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        return -childerr;
    }
    return pid;
}

int bh_poweroff(void) {
    sync();
    return reboot(RB_POWER_OFF) < 0 ? -errno : 0;
}

int bh_mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data) {
    return mount(src, target, fstype, flags, data) < 0 ? -errno : 0;
}

int bh_sethostname(const char *name) { return sethostname(name, strlen(name)) < 0 ? -errno : 0; }

int bh_boot_id(char *buf, size_t len) {
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t n = read(fd, buf, len - 1);
    int e = errno; close(fd);
    if (n < 0) return -e;
    while (n > 0 && (buf[n - 1] == '\n')) n--;
    buf[n] = 0;
    return (int)n;
}

int bh_if_up(const char *name) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    struct ifreq ifr; memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0) { ifr.ifr_flags |= IFF_UP | IFF_RUNNING; rc = ioctl(s, SIOCSIFFLAGS, &ifr); }
    int e = errno; close(s);
    return rc < 0 ? -e : 0;
}

static void poweroff_handler(int sig) {
    (void)sig;
    sync();                      // async-signal-safe, as is reboot(2)
    reboot(RB_POWER_OFF);
}

int bh_poweroff_on_sigterm(void) {
    struct sigaction sa; memset(&sa, 0, sizeof sa);
    sa.sa_handler = poweroff_handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0) return -errno;
    return 0;
}

void bh_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

/* One pipe per signal number; written from the handler (write(2) is async-signal-safe). */
static int signal_pipes[65] = {0};

static void pipe_handler(int sig) {
    int saved = errno;
    if (sig > 0 && sig < 65 && signal_pipes[sig] > 0) {
        unsigned char b = (unsigned char)sig;
        ssize_t r = write(signal_pipes[sig], &b, 1); (void)r;   /* a full pipe already holds a wake-up */
    }
    errno = saved;
}

int bh_signal_pipe(int sig) {
    if (sig <= 0 || sig >= 65) return -EINVAL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return -errno;
    int fl = fcntl(fds[1], F_GETFL);
    fcntl(fds[1], F_SETFL, fl | O_NONBLOCK);
    signal_pipes[sig] = fds[1];
    struct sigaction sa; memset(&sa, 0, sizeof sa);
    sa.sa_handler = pipe_handler;
    sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0) { int e = errno; close(fds[0]); close(fds[1]); signal_pipes[sig] = 0; return -e; }
    return fds[0];
}

/* ---- Pseudo-terminals (agent sessions) ---- */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <termios.h>

int bh_openpty(int fds[2], unsigned short rows, unsigned short cols) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -errno;
    char name[128];
    if (grantpt(m) < 0 || unlockpt(m) < 0) { int e = errno; close(m); return -e; }
    int rc = ptsname_r(m, name, sizeof name);
    if (rc != 0) { close(m); return -rc; }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) { int e = errno; close(m); return -e; }
    struct winsize ws = { .ws_row = rows, .ws_col = cols, .ws_xpixel = 0, .ws_ypixel = 0 };
    if (ioctl(m, TIOCSWINSZ, &ws) < 0) { int e = errno; close(s); close(m); return -e; }
    fds[0] = m; fds[1] = s;
    return 0;
}

int bh_set_winsize(int fd, unsigned short rows, unsigned short cols) {
    struct winsize ws = { .ws_row = rows, .ws_col = cols, .ws_xpixel = 0, .ws_ypixel = 0 };
    return ioctl(fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

int bh_foreground_pgrp(int fd) {
    pid_t pg = 0;
    return ioctl(fd, TIOCGPGRP, &pg) < 0 ? -errno : (int)pg;
}

int bh_dup_cloexec(int fd) {
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return n < 0 ? -errno : n;
}

int bh_eventfd(void) {
    int fd = eventfd(0, EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}


int bh_peer_address(int fd, char *buf, size_t len) {
    struct sockaddr_storage ss; socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) return -errno;
    const void *addr;
    if (ss.ss_family == AF_INET) addr = &((struct sockaddr_in *)&ss)->sin_addr;
    else if (ss.ss_family == AF_INET6) addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    else return -EAFNOSUPPORT;
    if (!inet_ntop(ss.ss_family, addr, buf, (socklen_t)len)) return -errno;
    return 0;
}

#include <linux/if_tun.h>
#include <sched.h>

struct tap_request { const char *netns; const char *name; int result; };

static void *tap_thread(void *arg) {
    struct tap_request *r = arg;
    int ns = open(r->netns, O_RDONLY | O_CLOEXEC);
    if (ns < 0) { r->result = -errno; return NULL; }
    if (setns(ns, CLONE_NEWNET) < 0) { r->result = -errno; close(ns); return NULL; }
    close(ns);
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) { r->result = -errno; return NULL; }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, r->name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { r->result = -errno; close(fd); return NULL; }
    r->result = fd;
    return NULL;
}

int bh_tap_open(const char *netns_path, const char *name) {
    struct tap_request r = { netns_path, name, -EIO };
    pthread_t t;
    int e = pthread_create(&t, NULL, tap_thread, &r);
    if (e != 0) return -e;
    pthread_join(t, NULL);
    return r.result;
}

/* A socket bound to host:port inside the network namespace at netns_path: made on a short-lived thread
   that setns()es there (a socket keeps the namespace it was made in), so the caller's namespace is never
   changed. stream: a listening TCP socket, else UDP; both non-blocking. */
struct netns_bind_request { const char *netns; int stream; const char *host; int port; int result; };

static void *netns_bind_thread(void *arg) {
    struct netns_bind_request *r = arg;
    int ns = open(r->netns, O_RDONLY | O_CLOEXEC);
    if (ns < 0) { r->result = -errno; return NULL; }
    if (setns(ns, CLONE_NEWNET) < 0) { r->result = -errno; close(ns); return NULL; }
    close(ns);
    struct sockaddr_storage ss; socklen_t len;
    int fam = fill_inet(&ss, &len, r->host, r->port);
    if (fam < 0) { r->result = fam; return NULL; }
    int fd = socket(fam, (r->stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) { r->result = -errno; return NULL; }
    int one = 1;
    if (r->stream) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (r->stream && listen(fd, 64) < 0)) {
        int e = errno; close(fd); r->result = -e; return NULL;
    }
    r->result = fd;
    return NULL;
}

int bh_netns_bind(const char *netns_path, int stream, const char *host, int port) {
    struct netns_bind_request r = { netns_path, stream, host, port, -EIO };
    pthread_t t;
    int e = pthread_create(&t, NULL, netns_bind_thread, &r);
    if (e != 0) return -e;
    pthread_join(t, NULL);
    return r.result;
}
