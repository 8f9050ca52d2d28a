// A fully static (-static-executable) Swift binary aborts before main with "Unable to obtain Swift
// runtime path" when /proc is not mounted: the runtime's Backtrace static constructor readlink()s
// /proc/self/exe (dladdr does nothing in a static glibc binary). As PID 1 nothing may be mounted yet,
// so mount /proc in a constructor that runs before the runtime's default-priority constructors.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lohar_init.h"

static int proc_mounted = 0;

__attribute__((constructor(101)))
static void lohar_early_mount_proc(void) {
    if (getpid() != 1) return;                 // never mount anything when not init
    if (access("/proc/self/exe", F_OK) == 0) return;
    mkdir("/proc", 0555);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0) == 0) proc_mounted = 1;
}

int lohar_init_proc_mounted(void) { return proc_mounted; }
