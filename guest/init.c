// bhatti guest init: the initramfs's /init, PID 1 for the first ~100 ms of a sandbox's life.
//
// Debian's cloud kernel builds the virtio drivers as modules and ext4 in, so this program:
//   1. mounts devtmpfs, proc and sysfs;
//   2. loads the modules named in /lib/modules/order (dependencies first) with finit_module;
//   3. waits (bounded) for the root disk, mounts it ext4 on /newroot (read-only with `ro`);
//   4. moves /dev, /proc and /sys into it, frees the initramfs, and switches root;
//   5. execs `bhatti.init=` from the kernel command line (default /usr/local/bin/lohar).
// On any failure it says what went wrong on the console and powers the VM off: a sandbox that
// cannot boot must stop (the host sees QEMU exit), never hang.
//
// Recognised command-line words: bhatti.init=PATH, bhatti.root=DEV (default /dev/vda),
// bhatti.verbose (timestamps per phase), ro, rw. Everything else (console=, tsc_early_khz=, ...)
// belongs to the kernel and is ignored here.
//
// Built by the image builder with `cc -static -Os -s`; it uses nothing beyond libc and syscalls.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define MODULE_DIR "/lib/modules"
#define ORDER_FILE MODULE_DIR "/order"
#define NEWROOT "/newroot"
#define DEFAULT_INIT "/usr/local/bin/lohar"
#define DEFAULT_ROOT "/dev/vda"
#define ROOT_WAIT_MS 5000
#define PATH_MAX_LEN 256

static struct {
    char init[PATH_MAX_LEN];
    char root[PATH_MAX_LEN];
    int read_only;
    int verbose;
} config = { DEFAULT_INIT, DEFAULT_ROOT, 0, 0 };

// ---- console output and the one way out ------------------------------------------------------

// Formats into a buffer and writes it with one write(2): lines from init and the kernel do not
// interleave mid-line, and nothing depends on stdio buffering before an exec or a power-off.
static void vsay(const char *prefix, const char *fmt, va_list ap) {
    char line[512];
    int n = snprintf(line, sizeof line, "bhatti-init: %s", prefix);
    if (n < 0) return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (m < 0) return;
    size_t len = strnlen(line, sizeof line - 2);
    line[len++] = '\n';
    // Nothing useful to do if the console itself fails; the return value is deliberately ignored.
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay("", fmt, ap);
    va_end(ap);
}

// Prints the reason and powers off. RB_POWER_OFF only returns if the call itself fails; then a
// reboot (QEMU runs with -no-reboot, so that also ends the VM) and, last, exiting PID 1, which
// panics the kernel (panic=-1 reboots).
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay("FATAL: ", fmt, ap);
    va_end(ap);
    if (getpid() != 1) exit(1);  // never power off a machine we are not the init of
    say("powering off");
    sync();
    if (reboot(RB_POWER_OFF) < 0) say("power off failed: %s; rebooting", strerror(errno));
    if (reboot(RB_AUTOBOOT) < 0) say("reboot failed: %s", strerror(errno));
    _exit(1);
}

static double uptime(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0) return -1;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void phase(const char *what) {
    if (config.verbose) say("%s (uptime %.3f s)", what, uptime());
}

// ---- steps -----------------------------------------------------------------------------------

static void mount_or_die(const char *source, const char *target, const char *type, unsigned long flags) {
    if (mkdir(target, 0755) < 0 && errno != EEXIST) fail("mkdir %s: %s", target, strerror(errno));
    // EBUSY: already mounted (a kernel with CONFIG_DEVTMPFS_MOUNT, or a second run); that is fine.
    if (mount(source, target, type, flags, NULL) < 0 && errno != EBUSY)
        fail("mount %s on %s: %s", type, target, strerror(errno));
}

// If the kernel could not open /dev/console for us, stdio is closed; reopen it from devtmpfs so
// that failure messages have somewhere to go.
static void ensure_console(void) {
    if (fcntl(STDERR_FILENO, F_GETFD) >= 0) return;
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0) return;  // no console at all: stay silent, fail() still powers off
    for (int target = 0; target <= 2; target++)
        if (fd != target && dup2(fd, target) < 0) return;
    if (fd > 2) close(fd);
}

// Copies a cmdline value, refusing (rather than truncating) one that does not fit.
static void set_value(char *dest, const char *name, const char *value) {
    size_t len = strlen(value);
    if (len == 0 || len >= PATH_MAX_LEN) fail("%s= must be 1..%d characters", name, PATH_MAX_LEN - 1);
    memcpy(dest, value, len + 1);
}

static void parse_cmdline(void) {
    char buf[4096];  // COMMAND_LINE_SIZE is 2048 on x86
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open /proc/cmdline: %s", strerror(errno));
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0) fail("read /proc/cmdline: %s", strerror(errno));
    if (close(fd) < 0) fail("close /proc/cmdline: %s", strerror(errno));
    buf[n] = '\0';

    char *save = NULL;
    for (char *word = strtok_r(buf, " \t\n", &save); word; word = strtok_r(NULL, " \t\n", &save)) {
        if (strncmp(word, "bhatti.init=", 12) == 0) set_value(config.init, "bhatti.init", word + 12);
        else if (strncmp(word, "bhatti.root=", 12) == 0) set_value(config.root, "bhatti.root", word + 12);
        else if (strcmp(word, "bhatti.verbose") == 0) config.verbose = 1;
        else if (strcmp(word, "ro") == 0) config.read_only = 1;
        else if (strcmp(word, "rw") == 0) config.read_only = 0;
        // anything else is the kernel's (console=, quiet, tsc_early_khz=, ...)
    }
    if (config.init[0] != '/') fail("bhatti.init=%s must be an absolute path", config.init);
}

static void load_module(const char *name) {
    char path[PATH_MAX_LEN];
    if (snprintf(path, sizeof path, MODULE_DIR "/%s.ko", name) >= (int)sizeof path) fail("module name too long: %s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open %s: %s", path, strerror(errno));
    // EEXIST: built in, or loaded already; either way the driver is there.
    if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST) fail("load module %s: %s", name, strerror(errno));
    if (close(fd) < 0) fail("close %s: %s", path, strerror(errno));
}

static void load_modules(void) {
    char list[4096];
    int fd = open(ORDER_FILE, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open %s: %s", ORDER_FILE, strerror(errno));
    ssize_t n = read(fd, list, sizeof list - 1);
    if (n < 0) fail("read %s: %s", ORDER_FILE, strerror(errno));
    if (n == (ssize_t)sizeof list - 1) fail("%s is too long", ORDER_FILE);
    if (close(fd) < 0) fail("close %s: %s", ORDER_FILE, strerror(errno));
    list[n] = '\0';

    char *save = NULL;
    for (char *name = strtok_r(list, "\n", &save); name; name = strtok_r(NULL, "\n", &save))
        if (name[0] != '\0') load_module(name);
}

static double now_monotonic(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0) fail("clock_gettime: %s", strerror(errno));
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// The block device appears asynchronously after virtio_blk probes; poll every millisecond so the
// common case costs almost nothing, and give up ROOT_WAIT_MS after we started looking (a deadline
// on the clock, not a count of sleeps: under TCG each sleep overshoots).
static void wait_for_root(void) {
    const struct timespec tick = { 0, 1000 * 1000 };
    const double deadline = now_monotonic() + ROOT_WAIT_MS / 1000.0;
    for (;;) {
        struct stat st;
        if (stat(config.root, &st) == 0) {
            if (!S_ISBLK(st.st_mode)) fail("%s exists but is not a block device", config.root);
            return;
        }
        if (errno != ENOENT) fail("stat %s: %s", config.root, strerror(errno));
        if (now_monotonic() >= deadline)
            fail("root device %s did not appear within %d ms (is a virtio-blk disk attached?)", config.root, ROOT_WAIT_MS);
        if (nanosleep(&tick, NULL) < 0 && errno != EINTR) fail("nanosleep: %s", strerror(errno));
    }
}

static void mount_root(void) {
    unsigned long flags = config.read_only ? MS_RDONLY : 0;
    int rc = mount(config.root, NEWROOT, "ext4", flags, NULL);
    // A read-only disk (QEMU readonly=on) refuses a rw mount; like the kernel's own root mount,
    // fall back to read-only and say so rather than refusing to boot.
    if (rc < 0 && !config.read_only && (errno == EACCES || errno == EROFS)) {
        say("warning: %s is read-only (%s); mounting it read-only", config.root, strerror(errno));
        config.read_only = 1;
        rc = mount(config.root, NEWROOT, "ext4", MS_RDONLY, NULL);
    }
    if (rc < 0)
        fail("mount %s (ext4, %s) on %s: %s", config.root, config.read_only ? "ro" : "rw", NEWROOT, strerror(errno));

    char path[2 * PATH_MAX_LEN];
    snprintf(path, sizeof path, NEWROOT "%s", config.init);
    if (access(path, X_OK) < 0) fail("%s on the root file system: %s", config.init, strerror(errno));
}

static void move_into_newroot(const char *from) {
    char to[PATH_MAX_LEN];
    snprintf(to, sizeof to, NEWROOT "%s", from);
    if (mkdir(to, 0755) < 0 && errno != EEXIST) fail("mkdir %s: %s", to, strerror(errno));
    if (mount(from, to, NULL, MS_MOVE, NULL) < 0) fail("move %s to %s: %s", from, to, strerror(errno));
}

// Removes the initramfs's files (what busybox switch_root does) so their RAM is returned to the
// guest: it would otherwise stay pinned for the VM's life and be copied into every snapshot.
// Stays on the initramfs's own device, so the mounted root is never touched. Best effort: a file
// that cannot be removed costs memory, not correctness, so failures are reported, not fatal.
static void delete_tree(int dirfd, dev_t device) {
    DIR *dir = fdopendir(dirfd);
    if (!dir) {
        say("warning: fdopendir: %s", strerror(errno));
        close(dirfd);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            say("warning: stat %s: %s", name, strerror(errno));
            continue;
        }
        if (st.st_dev != device) continue;  // a mount point (the new root): not ours to delete
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                say("warning: open %s: %s", name, strerror(errno));
                continue;
            }
            delete_tree(sub, device);
            if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0) say("warning: rmdir %s: %s", name, strerror(errno));
        } else if (unlinkat(dirfd, name, 0) < 0) {
            say("warning: unlink %s: %s", name, strerror(errno));
        }
    }
    if (closedir(dir) < 0) say("warning: closedir: %s", strerror(errno));
}

static void free_initramfs(void) {
    struct statfs fs;
    struct stat st;
    if (statfs("/", &fs) < 0) fail("statfs /: %s", strerror(errno));
    // Only ever delete from a RAM-backed root; anything else means we are not in an initramfs.
    if (fs.f_type != RAMFS_MAGIC && fs.f_type != TMPFS_MAGIC) fail("/ is not an initramfs (type 0x%lx)", (unsigned long)fs.f_type);
    if (stat("/", &st) < 0) fail("stat /: %s", strerror(errno));
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail("open /: %s", strerror(errno));
    delete_tree(fd, st.st_dev);
}

// switch_root: the new root replaces the initramfs as "/" (pivot_root does not work on rootfs).
static void switch_root(void) {
    if (chdir(NEWROOT) < 0) fail("chdir %s: %s", NEWROOT, strerror(errno));
    free_initramfs();
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0) fail("move %s to /: %s", NEWROOT, strerror(errno));
    if (chroot(".") < 0) fail("chroot: %s", strerror(errno));
    if (chdir("/") < 0) fail("chdir /: %s", strerror(errno));
}

int main(void) {
    if (getpid() != 1) {
        // Run by hand on a host, this program must not mount, delete or power off anything.
        fprintf(stderr, "bhatti-init: must run as PID 1 (the initramfs's /init)\n");
        return 1;
    }
    mount_or_die("devtmpfs", "/dev", "devtmpfs", MS_NOSUID);
    ensure_console();
    mount_or_die("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    mount_or_die("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    parse_cmdline();
    phase("start");

    load_modules();
    phase("modules loaded");
    wait_for_root();
    mount_root();
    move_into_newroot("/dev");
    move_into_newroot("/proc");
    move_into_newroot("/sys");
    switch_root();
    phase("switching root");

    char *const argv[] = { config.init, NULL };
    char *const envp[] = {
        "HOME=/", "TERM=linux", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL,
    };
    execve(config.init, argv, envp);
    fail("exec %s: %s", config.init, strerror(errno));
}
