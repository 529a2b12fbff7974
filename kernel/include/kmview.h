/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The user-space ABI of /dev/kmview (kmview.ko): events, replies, memory access, filters.
 * Shared by the module (kernel/kmview.c), umview's kmview engine (core/kmview_engine.cc) and the
 * guest tests. Plain C, fixed-size little-endian x86-64 layouts, usable from C and C++. */
#ifndef KMVIEW_UAPI_H
#define KMVIEW_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KMVIEW_DEVICE "/dev/kmview"
/* 2 added KMVIEW_IOC_FD_PREFILTER, KMVIEW_IOC_MARKED_BITMAP, KMVIEW_IOC_MARK and the empty-path
 * rule of the path prefilter; a tracer built for ABI 1 works unchanged with it.
 * 3: the path prefilter lets a call run unseen only if the walk of its path meets no symlink (it
 * was lexical); nothing else changed.
 * 4: prefixes may be base-only (KMVIEW_PREFIX_BASE_ONLY); a tracer that sends none sees no change. */
#define KMVIEW_ABI_VERSION 4
#define KMVIEW_NR_BITMAP 512 /* syscall numbers covered by the bitmap; higher ones always report */

/* Event types, read() from the device in whole struct kmview_event units. */
enum kmview_event_type {
  KMVIEW_EV_NEW_THREAD = 1,    /* tid was created by parent (a) with clone flags (flags) */
  KMVIEW_EV_EXEC = 2,          /* tid (now the thread-group leader) exec'd; a = former tid */
  KMVIEW_EV_SYSCALL_ENTRY = 3, /* waits for KMVIEW_IOC_REPLY */
  KMVIEW_EV_SYSCALL_EXIT = 4,  /* waits for KMVIEW_IOC_REPLY */
  KMVIEW_EV_THREAD_EXIT = 5,   /* tid is gone; status is a wait(2) status */
};

struct kmview_event {
  __u32 type;
  __s32 tid;
  __s32 pid;  /* thread group */
  __s32 a;    /* NEW_THREAD: parent tid; EXEC: former tid */
  __u64 seq;  /* a stop's token: give it back in the reply */
  __u64 flags; /* NEW_THREAD: clone flags */
  __s64 nr;
  __u64 args[6];
  __u64 ip, sp;
  __u32 arch; /* AUDIT_ARCH_X86_64 */
  __s32 status;
  __s64 ret;      /* SYSCALL_EXIT: the return value */
  __u64 scratch;  /* a PROT_READ area of this thread in its address space (0: none) */
  __u64 scratch_size;
};

/* Replies (SYSVM outcomes). */
enum kmview_action {
  KMVIEW_RUN = 0,           /* entry: run (with changes if any), no exit event */
  KMVIEW_RUN_REPORT_EXIT = 1, /* entry: run (with changes if any), then an exit event */
  KMVIEW_SKIP = 2,          /* entry: do not run; the caller gets value */
  KMVIEW_SET_RETURN = 3,    /* exit: the caller gets value */
  KMVIEW_KEEP_RETURN = 4,   /* exit: the caller gets what the call returned */
};

#define KMVIEW_REPLY_NR (1u << 0)   /* entry: nr changed */
#define KMVIEW_REPLY_ARGS (1u << 1) /* entry: args changed */

struct kmview_reply {
  __s32 tid;
  __u32 action;
  __u64 seq;
  __u32 change; /* KMVIEW_REPLY_* */
  __u32 pad;
  __s64 nr;
  __u64 args[6];
  __s64 value;
};

/* Memory ops, by pid (thread id), with ptrace-attach permission (or attached to this tracer). */
enum kmview_mem_op {
  KMVIEW_MEM_READ = 1,   /* len bytes, all or -EFAULT */
  KMVIEW_MEM_WRITE = 2,  /* len bytes, FOLL_FORCE (read-only pages too) */
  KMVIEW_MEM_STRING = 3, /* up to the NUL (included) or len; result = length without NUL,
                            -ENAMETOOLONG without a NUL in len bytes; never reads past the NUL's page */
};

struct kmview_mem {
  __u32 op;
  __s32 pid;
  __u64 addr; /* in the tracee */
  __u64 buf;  /* in the tracer */
  __u64 len;
  __s64 result; /* out: bytes (READ/WRITE: len) or -errno */
};

/* MULTI: ops executed in order, each with its own result; then the reply if has_reply. */
struct kmview_multi {
  __u64 ops; /* struct kmview_mem[] */
  __u32 nops;
  __u32 has_reply;
  struct kmview_reply reply;
  __s64 reply_result; /* out */
};

/* Configuration of this tracer (this open file). */
#define KMVIEW_CFG_TRAP_ALL (1u << 0)     /* ignore the bitmap: every call reports */
#define KMVIEW_CFG_SCRATCH (1u << 1)      /* give each traced thread a scratch area */
#define KMVIEW_CFG_KILL_ON_CLOSE (1u << 2) /* always on: closing the device kills its tracees */

struct kmview_config {
  __u32 flags;
  __u32 scratch_size; /* bytes, page multiple; default 16 KiB */
  __u64 bitmap[KMVIEW_NR_BITMAP / 64]; /* bit n set: syscall n reports */
};

/* Path prefilter: a path call whose path lies outside every prefix runs with no event.
 * An empty list (the default) disables the prefilter. Prefixes are absolute, NUL-separated,
 * without trailing '/', total length len. An empty path (AT_EMPTY_PATH) names the dirfd's file
 * (or the cwd) itself, and counts as inside unless that is a directory or regular file outside
 * every prefix (ABI 2; ABI 1 counted every empty path as inside). A prefix written with a
 * leading KMVIEW_PREFIX_BASE_ONLY (ABI 4) counts only for paths reached through the cwd or a
 * dirfd (relative ones) and for descriptor calls, not for a path the call names absolutely nor
 * for where a symlink leads: a bind's source, which the view shows as the host does when named
 * by its own path, and takes for the bind's view path as a cwd or directory descriptor. */
#define KMVIEW_PREFIX_BASE_ONLY '='
struct kmview_prefixes {
  __u64 buf;
  __u32 len;
  __u32 pad;
};

/* A bitmap of syscall numbers, for KMVIEW_IOC_FD_PREFILTER and KMVIEW_IOC_MARKED_BITMAP (ABI 2). */
struct kmview_bitmap {
  __u64 bitmap[KMVIEW_NR_BITMAP / 64];
};

/* Descriptor prefilter (KMVIEW_IOC_FD_PREFILTER), with a non-empty prefix list only: a call
 * whose bit is set reports only if the object it works on lies at or under a prefix, or
 * (descriptors) is a directory above one (its listing may hold a mount point). The object: the
 * file of the descriptor in the first argument, or for getcwd the task's cwd (which must lie at
 * or under a prefix). A descriptor that is not open, not a directory or regular file (pipes,
 * FIFOs, sockets: umview's virtual descriptors), removed, or unreachable from the task's root
 * reports. Bits for numbers that would not report anyway do nothing.
 *
 * Marked bitmap (KMVIEW_IOC_MARKED_BITMAP): numbers that report only in the threads this tracer
 * marked with KMVIEW_IOC_MARK (and those they create from then on), as if set in the config
 * bitmap there. For calls that matter only in some processes (umview: descriptor calls in
 * processes holding virtual descriptors). */

struct kmview_info {
  __u32 abi_version;
  __u32 tracers;   /* open files */
  __u32 tasks;     /* attached tasks, all tracers */
  __u32 pad;
  __u64 filtered;  /* calls let run unseen by the path and descriptor prefilters */
};

#define KMVIEW_IOC_MAGIC 0xB7
/* Attach the calling thread and everything it creates from now on (call it before exec). */
#define KMVIEW_IOC_ATTACH_SELF _IO(KMVIEW_IOC_MAGIC, 1)
/* Attach the thread group of a pid (ptrace-attach permission needed). */
#define KMVIEW_IOC_ATTACH_PID _IOW(KMVIEW_IOC_MAGIC, 2, __s32)
#define KMVIEW_IOC_REPLY _IOW(KMVIEW_IOC_MAGIC, 3, struct kmview_reply)
#define KMVIEW_IOC_MEM _IOWR(KMVIEW_IOC_MAGIC, 4, struct kmview_mem)
#define KMVIEW_IOC_MULTI _IOWR(KMVIEW_IOC_MAGIC, 5, struct kmview_multi)
#define KMVIEW_IOC_CONFIG _IOW(KMVIEW_IOC_MAGIC, 6, struct kmview_config)
#define KMVIEW_IOC_PREFIXES _IOW(KMVIEW_IOC_MAGIC, 7, struct kmview_prefixes)
#define KMVIEW_IOC_INFO _IOR(KMVIEW_IOC_MAGIC, 8, struct kmview_info)
/* ABI 2: */
#define KMVIEW_IOC_FD_PREFILTER _IOW(KMVIEW_IOC_MAGIC, 9, struct kmview_bitmap)
#define KMVIEW_IOC_MARKED_BITMAP _IOW(KMVIEW_IOC_MAGIC, 10, struct kmview_bitmap)
/* Marks every thread of the thread group of a tid this tracer traces; -ESRCH if none. */
#define KMVIEW_IOC_MARK _IOW(KMVIEW_IOC_MAGIC, 11, __s32)

#endif /* KMVIEW_UAPI_H */
