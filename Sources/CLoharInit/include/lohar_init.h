#ifndef LOHAR_INIT_H
#define LOHAR_INIT_H
/// 1 when the pre-main constructor mounted /proc (lohar runs as PID 1 with nothing mounted).
int lohar_init_proc_mounted(void);
#endif
