// SPDX-License-Identifier: GPL-2.0
/*
 * kmview.ko: partial virtualization support for umview on Debian 12 (6.1.85+, x86-64).
 *
 * /dev/kmview: one open file is one tracer. Traced tasks stop at the system calls their tracers
 * asked for and wait, in syscall context, for one reply per stop (SYSVM: run / run and report the
 * exit / skip with a value). Several tracers may trace one task: entry events go to them in
 * reverse attach order (a skip ends the walk), exit events in attach order.
 *
 * Hooks (6.1.85+): x64_sys_call(regs, nr) through ftrace with IPMODIFY, redirected only for traced
 * tasks; the sys_enter tracepoint for numbers beyond the table (umview's control call); the
 * sched_process_{fork,exec,exit} tracepoints for process events (they cannot sleep: they only
 * queue events and link new tasks).
 */
#include <linux/anon_inodes.h>
#include <linux/audit.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/ftrace.h>
#include <linux/hashtable.h>
#include <linux/kprobes.h>
#include <linux/magic.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/poll.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <asm/syscall.h>
#include <asm/unistd.h>

#include "kmview.h"

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmview: system call virtualization for umview");

#define KMV_MAX_NEST 8
#define KMV_DEFAULT_SCRATCH (16 * 1024)
#define KMV_WALK_CACHE_MS 50  /* as the ptrace engine's WalkCache */
#define KMV_WALK_CACHE_LEN 256 /* longest directory kept */

/* A tracer's path prefixes (KMVIEW_IOC_PREFIXES): replaced whole, read under RCU. */
struct kmv_prefixes {
	struct rcu_head rcu;
	u32 len;
	char s[]; /* NUL-separated */
};

struct kmv_tracer {
	struct kref ref;
	spinlock_t evlock; /* events */
	struct list_head events;
	wait_queue_head_t readq;
	struct list_head atts; /* kmv_att.tr_node, under kmv_lock */
	bool closed;           /* under kmv_lock; read locklessly by waiters */
	u32 flags;
	u32 scratch_size;
	unsigned long bitmap[BITS_TO_LONGS(KMVIEW_NR_BITMAP)];
	unsigned long fd_bitmap[BITS_TO_LONGS(KMVIEW_NR_BITMAP)]; /* KMVIEW_IOC_FD_PREFILTER */
	unsigned long marked_bitmap[BITS_TO_LONGS(KMVIEW_NR_BITMAP)]; /* KMVIEW_IOC_MARKED_BITMAP */
	struct kmv_prefixes __rcu *prefixes; /* NULL: no path prefilter */
	struct mutex prefix_lock;            /* writers of prefixes */
};

struct kmv_task;

/*
 * One tracer on one task. Linked in kmv_task.atts (RCU: the system call hook walks it without
 * kmv_lock) and kmv_tracer.atts (under kmv_lock only); freed a grace period after its last put.
 */
struct kmv_att {
	struct kref ref;
	struct rcu_head rcu;
	struct list_head task_node; /* kmv_task.atts, attach order; RCU */
	struct list_head tr_node;   /* kmv_tracer.atts; after the unlink, kmv_on_exit's list */
	struct kmv_tracer *tr;      /* holds a reference */
	struct kmv_task *kt;        /* valid while linked */
	bool marked;                /* KMVIEW_IOC_MARK: marked_bitmap applies; inherited */
	/* Used only by the task itself in syscall context. */
	struct mm_struct *scratch_mm;
	unsigned long scratch;
};

struct kmv_task {
	refcount_t ref;
	struct hlist_node hnode; /* kmv_tasks, keyed by task pointer */
	struct task_struct *task; /* not a counted reference: unhashed at exit */
	struct list_head atts;
	int natts;
	/* The stop in progress (one at a time: the task waits for one tracer). */
	spinlock_t lock;
	wait_queue_head_t wq;
	struct kmv_tracer *waiting_on;
	u64 seq;
	bool replied;
	struct kmview_reply reply;
	u64 clone_flags; /* of the clone the task is making, for the fork tracepoint */
	long oot_nr;     /* a call beyond the table, disguised as getpid (kmv_on_sys_enter) */
	/* Two PATH_MAX buffers for the prefilters, made on first use; used only by the task itself
	 * in syscall context (one call at a time), freed with the kmv_task. */
	char *pathbuf;
	/* The walk cache (kmv_walk_cached): the last directory whose walk from the root met no
	 * symlink, by its path string, holding a reference; dropped KMV_WALK_CACHE_MS after it was
	 * walked (wc_work, which holds a kmv_task reference while queued) or when any traced task
	 * starts a call that can put a symlink or a mount on a walk (kmv_walk_gen). */
	spinlock_t wc_lock;
	struct path wc_dir;       /* wc_dir.dentry NULL: empty; taken out while in use */
	unsigned long wc_stamp;   /* jiffies of the walk */
	u64 wc_gen;               /* kmv_walk_gen before the walk */
	bool wc_queued;           /* wc_work holds a kmv_task reference */
	bool wc_exited;           /* the task is gone: wc_work drops the entry whatever its age */
	struct delayed_work wc_work;
	u16 wc_len;
	char wc_str[KMV_WALK_CACHE_LEN];
	struct rcu_head rcu;
};

static DEFINE_SPINLOCK(kmv_lock);
static DEFINE_HASHTABLE(kmv_tasks, 10);
static atomic_t kmv_ntasks = ATOMIC_INIT(0);
static atomic_t kmv_ntracers = ATOMIC_INIT(0);
static atomic64_t kmv_seq = ATOMIC64_INIT(0);
static DEFINE_PER_CPU(u64, kmv_filtered); /* calls the prefilters let run unseen */
static atomic64_t kmv_walk_gen = ATOMIC64_INIT(0); /* kmv_walk_cached's validity */
static struct workqueue_struct *kmv_wq;            /* the walk caches' expiry */

typedef long (*x64_sys_call_t)(const struct pt_regs *, unsigned int);
typedef bool (*ptrace_may_access_t)(struct task_struct *, unsigned int);
typedef struct dentry *(*d_lookup_rcu_t)(const struct dentry *, const struct qstr *, unsigned *);
static x64_sys_call_t real_x64_sys_call;
static ptrace_may_access_t real_ptrace_may_access;
static d_lookup_rcu_t real_d_lookup_rcu; /* NULL: no dcache decisions in kmv_ftrace */

/* ---- tracers and tasks ---------------------------------------------------------------- */

struct kmv_event_node {
	struct list_head node;
	struct kmview_event ev;
};

static void kmv_tracer_free(struct kref *ref)
{
	struct kmv_tracer *tr = container_of(ref, struct kmv_tracer, ref);
	struct kmv_event_node *n, *tmp;

	/* Events queued by a tracee that raced with the close. */
	list_for_each_entry_safe(n, tmp, &tr->events, node)
		kfree(n);
	kfree(rcu_dereference_protected(tr->prefixes, true));
	kfree(tr);
}

static void kmv_tracer_put(struct kmv_tracer *tr)
{
	kref_put(&tr->ref, kmv_tracer_free);
}

static void kmv_att_free_rcu(struct rcu_head *rcu)
{
	struct kmv_att *att = container_of(rcu, struct kmv_att, rcu);

	kmv_tracer_put(att->tr);
	kfree(att);
}

/* The hook may still be reading att (and its tracer) under RCU: free both after a grace period
 * (kmv_exit's rcu_barrier waits for these callbacks). */
static void kmv_att_free(struct kref *ref)
{
	struct kmv_att *att = container_of(ref, struct kmv_att, ref);

	call_rcu(&att->rcu, kmv_att_free_rcu);
}

static void kmv_att_put(struct kmv_att *att)
{
	kref_put(&att->ref, kmv_att_free);
}

static void kmv_task_free_rcu(struct rcu_head *rcu)
{
	struct kmv_task *kt = container_of(rcu, struct kmv_task, rcu);

	WARN_ON_ONCE(kt->wc_dir.dentry); /* wc_work holds a reference while it is full */
	kfree(kt->pathbuf);
	kfree(kt);
}

static void kmv_task_put(struct kmv_task *kt)
{
	if (refcount_dec_and_test(&kt->ref)) {
		call_rcu(&kt->rcu, kmv_task_free_rcu);
		/* Every attached task pins the module (see kmv_task_new). */
		module_put(THIS_MODULE);
	}
}

/*
 * The walk cache's expiry (kmv_wq): drops the cached directory once it is KMV_WALK_CACHE_MS old,
 * so that a task that stops making calls does not keep a mount busy; requeued while the entry is
 * younger (a newer walk replaced it).
 */
static void kmv_wc_expire(struct work_struct *work)
{
	struct kmv_task *kt = container_of(to_delayed_work(work), struct kmv_task, wc_work);
	unsigned long due, now = jiffies;
	struct path old = {};

	spin_lock(&kt->wc_lock);
	if (kt->wc_dir.dentry) {
		due = kt->wc_stamp + msecs_to_jiffies(KMV_WALK_CACHE_MS);
		if (!kt->wc_exited && time_before(now, due)) {
			queue_delayed_work(kmv_wq, &kt->wc_work, due - now);
			spin_unlock(&kt->wc_lock);
			return;
		}
		old = kt->wc_dir;
		kt->wc_dir.dentry = NULL;
		kt->wc_dir.mnt = NULL;
	}
	kt->wc_queued = false;
	spin_unlock(&kt->wc_lock);
	path_put(&old);
	kmv_task_put(kt);
}

/* Under rcu_read_lock or kmv_lock. */
static struct kmv_task *kmv_find(struct task_struct *task)
{
	struct kmv_task *kt;

	hash_for_each_possible_rcu(kmv_tasks, kt, hnode, (unsigned long)task)
		if (kt->task == task)
			return kt;
	return NULL;
}

static struct kmv_task *kmv_get(struct task_struct *task)
{
	struct kmv_task *kt;

	rcu_read_lock();
	kt = kmv_find(task);
	if (kt && !refcount_inc_not_zero(&kt->ref))
		kt = NULL;
	rcu_read_unlock();
	return kt;
}

/* Under kmv_lock. */
static struct kmv_task *kmv_task_new(struct task_struct *task, gfp_t gfp)
{
	struct kmv_task *kt = kzalloc(sizeof(*kt), gfp);

	if (!kt)
		return NULL;
	refcount_set(&kt->ref, 1); /* the hash table's */
	kt->task = task;
	INIT_LIST_HEAD(&kt->atts);
	spin_lock_init(&kt->lock);
	spin_lock_init(&kt->wc_lock);
	INIT_DELAYED_WORK(&kt->wc_work, kmv_wc_expire);
	init_waitqueue_head(&kt->wq);
	__module_get(THIS_MODULE);
	hash_add_rcu(kmv_tasks, &kt->hnode, (unsigned long)task);
	atomic_inc(&kmv_ntasks);
	return kt;
}

/* Under kmv_lock. The caller puts the hash table's reference. */
static void kmv_task_unhash(struct kmv_task *kt)
{
	hash_del_rcu(&kt->hnode);
	atomic_dec(&kmv_ntasks);
}

/* Under kmv_lock. */
static int kmv_link(struct kmv_task *kt, struct kmv_tracer *tr, bool marked, gfp_t gfp)
{
	struct kmv_att *att;

	if (kt->natts >= KMV_MAX_NEST)
		return -EBUSY;
	list_for_each_entry(att, &kt->atts, task_node)
		if (att->tr == tr)
			return -EALREADY;
	att = kzalloc(sizeof(*att), gfp);
	if (!att)
		return -ENOMEM;
	kref_init(&att->ref);
	kref_get(&tr->ref);
	att->tr = tr;
	att->kt = kt;
	att->marked = marked;
	list_add_tail_rcu(&att->task_node, &kt->atts);
	list_add_tail(&att->tr_node, &tr->atts);
	kt->natts++;
	return 0;
}

/* Under kmv_lock: unlinks att; true if the task has no tracer left (then unhashed). */
static bool kmv_unlink(struct kmv_att *att)
{
	struct kmv_task *kt = att->kt;

	list_del_rcu(&att->task_node);
	list_del(&att->tr_node);
	if (--kt->natts == 0) {
		kmv_task_unhash(kt);
		return true;
	}
	return false;
}

/* ---- events ----------------------------------------------------------------------------- */

static void kmv_queue(struct kmv_tracer *tr, const struct kmview_event *ev, gfp_t gfp)
{
	struct kmv_event_node *n = kmalloc(sizeof(*n), gfp);
	unsigned long flags;

	if (!n)
		return;
	n->ev = *ev;
	spin_lock_irqsave(&tr->evlock, flags);
	list_add_tail(&n->node, &tr->events);
	spin_unlock_irqrestore(&tr->evlock, flags);
	wake_up_interruptible(&tr->readq);
}

/*
 * Sends a stop event to tr and sleeps until tr replies, tr goes away or a fatal signal comes.
 * Returns 0 with *reply filled, or -EINTR (the task is being killed: the caller skips the call).
 */
static int kmv_stop(struct kmv_task *kt, struct kmv_tracer *tr, struct kmview_event *ev,
		    struct kmview_reply *reply)
{
	int err;

	spin_lock(&kt->lock);
	kt->waiting_on = tr;
	kt->seq = atomic64_inc_return(&kmv_seq);
	kt->replied = false;
	ev->seq = kt->seq;
	spin_unlock(&kt->lock);

	if (READ_ONCE(tr->closed))
		err = -EINTR;
	else {
		kmv_queue(tr, ev, GFP_KERNEL);
		/* Killable: SIGKILL ends the wait; other signals wait for the tracer like ptrace. */
		err = wait_event_killable(kt->wq, READ_ONCE(kt->replied) || READ_ONCE(tr->closed));
	}
	spin_lock(&kt->lock);
	if (!err && kt->replied)
		*reply = kt->reply;
	else
		err = -EINTR;
	kt->waiting_on = NULL;
	spin_unlock(&kt->lock);
	return err;
}

/* ---- filters ---------------------------------------------------------------------------- */

/* Path arguments of x86-64 calls: {dirfd arg or -1, path arg}, up to two pairs. */
struct kmv_path_args {
	s8 dirfd[2];
	s8 path[2];
};

static bool kmv_path_call(long nr, struct kmv_path_args *pa)
{
	pa->dirfd[0] = pa->dirfd[1] = -1;
	pa->path[0] = 0;
	pa->path[1] = -1;
	switch (nr) {
	/* execve/execveat are left out: an interpreter (#! or PT_INTERP) inside a prefix may be
	 * named by a program outside them, and execs are rare. chroot too: wherever it points, the
	 * plugin that claims it (viewfs refuses it) must see it, since a new root moves every path. */
	case __NR_open: case __NR_stat: case __NR_lstat: case __NR_access:
	case __NR_truncate: case __NR_chdir: case __NR_mkdir: case __NR_rmdir: case __NR_creat:
	case __NR_unlink: case __NR_readlink: case __NR_chmod: case __NR_chown: case __NR_lchown:
	case __NR_utime: case __NR_mknod: case __NR_statfs: case __NR_setxattr:
	case __NR_lsetxattr: case __NR_getxattr: case __NR_lgetxattr: case __NR_listxattr:
	case __NR_llistxattr: case __NR_removexattr: case __NR_lremovexattr: case __NR_utimes:
		return true;
	case __NR_rename: case __NR_link:
		pa->path[1] = 1;
		return true;
	case __NR_symlink:
		pa->path[0] = 1;
		return true;
	case __NR_openat: case __NR_mkdirat: case __NR_mknodat: case __NR_fchownat:
	case __NR_futimesat: case __NR_newfstatat: case __NR_unlinkat: case __NR_readlinkat:
	case __NR_fchmodat: case __NR_faccessat: case __NR_utimensat:
	case __NR_statx: case __NR_openat2: case __NR_faccessat2: case __NR_name_to_handle_at:
		pa->dirfd[0] = 0;
		pa->path[0] = 1;
		return true;
	case __NR_renameat: case __NR_renameat2: case __NR_linkat:
		pa->dirfd[0] = 0;
		pa->path[0] = 1;
		pa->dirfd[1] = 2;
		pa->path[1] = 3;
		return true;
	case __NR_symlinkat:
		pa->dirfd[0] = 1;
		pa->path[0] = 2;
		return true;
	}
	return false;
}

static u64 kmv_arg(const struct pt_regs *regs, int i)
{
	switch (i) {
	case 0: return regs->di;
	case 1: return regs->si;
	case 2: return regs->dx;
	case 3: return regs->r10;
	case 4: return regs->r8;
	default: return regs->r9;
	}
}

static void kmv_set_arg(struct pt_regs *regs, int i, u64 v)
{
	switch (i) {
	case 0: regs->di = v; break;
	case 1: regs->si = v; break;
	case 2: regs->dx = v; break;
	case 3: regs->r10 = v; break;
	case 4: regs->r8 = v; break;
	default: regs->r9 = v; break;
	}
}

/*
 * One pass over a path: -1 if it has a ".." component, else 1 if kmv_normalize would change it
 * (an empty or "." component, a trailing "/"), else 0 (most paths: no second pass).
 */
static int kmv_scan_path(const char *p)
{
	int norm = 0;

	if (*p == '/')
		p++;
	while (*p) {
		if (*p == '/') { /* an empty component */
			norm = 1;
			p++;
			continue;
		}
		if (p[0] == '.' && (p[1] == '/' || !p[1]))
			norm = 1;
		else if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
			return -1;
		p = strchrnul(p, '/');
		if (*p == '/' && !*++p)
			norm = 1; /* a trailing "/" */
	}
	return norm;
}

/*
 * Lexical normalization in place of an absolute path: "//" and "/./" collapse, a trailing "/"
 * or "/." goes ("/" stays). ".." is not handled here (such paths count as inside before).
 */
static void kmv_normalize(char *path)
{
	char *r = path, *w = path;

	while (*r) {
		while (*r == '/')
			r++;
		if (r[0] == '.' && (r[1] == '/' || r[1] == 0)) {
			r++;
			continue;
		}
		if (!*r)
			break;
		*w++ = '/';
		while (*r && *r != '/')
			*w++ = *r++;
	}
	if (w == path)
		*w++ = '/';
	*w = 0;
}

/* Is path at or under one of the prefixes? */
static bool kmv_in_prefixes(const struct kmv_prefixes *pf, const char *path, bool absolute)
{
	const char *p = pf->s, *end = pf->s + pf->len;

	while (p < end) {
		size_t n = strlen(p);
		const char *q = p;

		p += n + 1;
		if (*q == KMVIEW_PREFIX_BASE_ONLY) { /* ABI 4: not for paths named absolutely */
			if (absolute || n == 1)
				continue;
			q++;
			n--;
		}
		if (n == 1 && q[0] == '/')
			return true;
		if (!strncmp(path, q, n) && (path[n] == 0 || path[n] == '/'))
			return true;
	}
	return false;
}

/* Is path a proper ancestor of a prefix ("/" is one of every prefix)? */
static bool kmv_above_prefix(const struct kmv_prefixes *pf, const char *path)
{
	const char *p = pf->s, *end = pf->s + pf->len;
	size_t len = strlen(path);

	if (len == 1 && path[0] == '/')
		return true;
	while (p < end) {
		size_t n = strlen(p);
		const char *q = p;

		p += n + 1;
		if (*q == KMVIEW_PREFIX_BASE_ONLY) {
			q++;
			n--;
		}
		if (n > len && !strncmp(q, path, len) && q[len] == '/')
			return true;
	}
	return false;
}

/*
 * The task's cwd, without a reference: valid until rcu_read_unlock (dentries and mounts are freed
 * a grace period after their last put), enough for d_path. Takes no lock, so the filters can run
 * where they may not sleep.
 */
static void kmv_pwd_rcu(struct path *pwd)
{
	struct fs_struct *fs = current->fs;
	unsigned int seq;

	do {
		seq = read_seqcount_begin(&fs->seq);
		*pwd = fs->pwd;
	} while (read_seqcount_retry(&fs->seq, seq));
}

/*
 * The kernel's path of base into buf (PATH_MAX), or NULL if it is not a plain path: unreachable
 * from the task's root, removed, or a pseudo file ("pipe:[...]"). d_path's paths are normalized.
 */
static char *kmv_base_path(const struct path *base, char *buf)
{
	char *b = d_path(base, buf, PATH_MAX);
	size_t blen;

	if (IS_ERR(b) || b[0] != '/')
		return NULL;
	blen = strlen(b);
	if (blen >= 10 && !strcmp(b + blen - 10, " (deleted)"))
		return NULL;
	return b;
}

/* Only these objects may be decided by their path: other kinds (FIFOs, sockets, devices) may be
 * umview's virtual descriptors, which have a real path of their own. */
static bool kmv_plain_object(const struct path *p)
{
	struct inode *inode = d_inode(p->dentry);

	return inode && (S_ISDIR(inode->i_mode) || S_ISREG(inode->i_mode));
}

/*
 * The kernel's path of base (the cwd or a dirfd's file) for a relative path of n bytes, in buf,
 * or NULL to count the call as inside. An empty path (AT_EMPTY_PATH) names the base itself: it
 * is decided by its path only when it is a directory or regular file.
 */
static char *kmv_relative_base(const struct path *base, long n, char *buf)
{
	if (n == 0 && !kmv_plain_object(base))
		return NULL;
	return kmv_base_path(base, buf);
}

/*
 * Copies the user string at up, NUL included, into buf (PATH_MAX bytes): its length, or -1 if
 * it faults or does not fit. Not strncpy_from_user: with hardened usercopy (Debian's kernels)
 * that checks the whole PATH_MAX destination against its slab object on every call, which cost
 * more than all the rest of the prefilter on a short path (counted with qemu -icount).
 */
static long kmv_copy_path(char *buf, const char __user *up)
{
	unsigned long addr = (unsigned long)up;
	long max = PATH_MAX, i;

	if (addr >= TASK_SIZE_MAX)
		return -1;
	if (TASK_SIZE_MAX - addr < max)
		max = TASK_SIZE_MAX - addr;
	if (!user_read_access_begin(up, max))
		return -1;
	for (i = 0; i < max; i++) {
		char c;

		unsafe_get_user(c, up + i, fault);
		buf[i] = c;
		if (!c) {
			user_read_access_end();
			return i;
		}
	}
fault:
	user_read_access_end();
	return -1;
}

/*
 * Is path (absolute, normalized) at or under one of tr's prefixes (or has tr none)? absolute:
 * the call named it absolutely, or a symlink's walk led there (base-only prefixes do not count).
 */
static bool kmv_under_prefix(struct kmv_tracer *tr, const char *path, bool absolute)
{
	const struct kmv_prefixes *pf;
	bool inside;

	rcu_read_lock();
	pf = rcu_dereference(tr->prefixes);
	inside = !pf || kmv_in_prefixes(pf, path, absolute);
	rcu_read_unlock();
	return inside;
}

/*
 * Lexical normalization in place of an absolute path that meets no symlink, ".." included:
 * without symlinks "dir/.." is dir's parent (and ".." at "/" stays there).
 */
static void kmv_normalize_dotdot(char *path)
{
	char *r = path, *w = path;

	while (*r) {
		char *name;
		size_t len;

		while (*r == '/')
			r++;
		if (!*r)
			break;
		name = r;
		r = strchrnul(r, '/');
		len = r - name;
		if (len == 1 && name[0] == '.')
			continue;
		if (len == 2 && name[0] == '.' && name[1] == '.') {
			while (w > path && *--w != '/')
				;
			continue;
		}
		*w++ = '/';
		memmove(w, name, len);
		w += len;
	}
	if (w == path)
		*w++ = '/';
	*w = 0;
}

#define KMV_MAX_LINKS 40 /* as the kernel's walk */

/*
 * A path lexically outside every prefix can still lead into one through a symlink on the host
 * (out/link -> /view/data): the view must resolve that link. Walks cur (the call's path made
 * absolute: its cwd's or dirfd's kernel path and its string, no ".."; PATH_MAX bytes) as the call
 * will, with the caller's root and credentials: LOOKUP_NO_SYMLINKS first, and where that meets a
 * symlink, name by name, each symlink replaced by its body (at most KMV_MAX_LINKS), as the ptrace
 * engine's prefilter does (WalkStaysOutside). True if the walk stays outside: every symlink it
 * meets lies outside every prefix, and the symlink-free path it comes to too. The last name
 * counts as followed whatever the call does. Any failure of the walk but a symlink (no such
 * file, not a directory, permission) met no symlink before it, and the call fails there the same
 * way. Magic links (procfs: /proc/self/fd/N) and a walk that changes under us: false. alt is a
 * second PATH_MAX buffer; first, if not NULL, the same path relative to the cwd, walked first
 * (fewer names than cur: it may be alt). May sleep.
 */
static bool kmv_walk_outside(struct kmv_tracer *tr, char *cur, char *alt, const char *first)
{
	int links = 0;

	for (;;) {
		struct path p;
		char *e = cur;
		int err = kern_path(links == 0 && first ? first : cur, LOOKUP_FOLLOW | LOOKUP_NO_SYMLINKS,
				    &p);

		if (err != -ELOOP) {
			if (!err)
				path_put(&p);
			if (links)
				kmv_normalize_dotdot(cur);
			return !links || !kmv_under_prefix(tr, cur, true);
		}
		if (++links > KMV_MAX_LINKS)
			return false;
		/* The first name on the way that is a symlink. */
		for (;;) {
			DEFINE_DELAYED_CALL(done);
			const char *body;
			char saved, *tmp;
			size_t dlen = 0, blen, rlen;

			while (*e == '/')
				e++;
			if (!*e)
				return false; /* no symlink after all: changed under us */
			e = strchrnul(e, '/');
			saved = *e;
			*e = 0;
			err = kern_path(cur, LOOKUP_NO_SYMLINKS, &p);
			if (err) {
				*e = saved;
				return false;
			}
			if (!d_is_symlink(p.dentry)) {
				path_put(&p);
				*e = saved;
				continue;
			}
			/* The host passes this symlink: it must lie outside. */
			strscpy(alt, cur, PATH_MAX);
			kmv_normalize_dotdot(alt);
			if (kmv_under_prefix(tr, alt, true) ||
			    p.dentry->d_sb->s_magic == PROC_SUPER_MAGIC) {
				path_put(&p);
				*e = saved;
				return false;
			}
			body = vfs_get_link(p.dentry, &done);
			*e = saved;
			if (IS_ERR(body)) {
				path_put(&p);
				return false;
			}
			/* alt = [cur's directory of the link "/"] body rest */
			if (body[0] != '/') {
				char *slash = e - 1;

				while (*slash != '/')
					slash--;
				dlen = slash - cur + 1;
			}
			blen = strlen(body);
			rlen = strlen(e);
			if (dlen + blen + rlen >= PATH_MAX) {
				do_delayed_call(&done);
				path_put(&p);
				return false;
			}
			memcpy(alt, cur, dlen);
			memcpy(alt + dlen, body, blen);
			memcpy(alt + dlen + blen, e, rlen + 1);
			do_delayed_call(&done);
			path_put(&p);
			tmp = cur;
			cur = alt;
			alt = tmp;
			break;
		}
	}
}

/*
 * Under RCU, not sleeping (kmv_ftrace): is name (NUL-terminated) in directory dir a symlink,
 * by the dcache alone (__d_lookup_rcu, the kernel's own RCU-walk step)? 1: no, or no such name
 * (a negative dentry); 0: a symlink; -1: cannot tell here (not cached, a filesystem that hashes
 * or revalidates names its own way, a dentry changing under us). dir must stay allocated for
 * the RCU read section (a descriptor's or the cwd's, or the walk cache's).
 */
static int kmv_name_plain_rcu(const struct dentry *dir, const char *name)
{
	struct dentry *d;
	struct qstr q;
	unsigned int seq;
	int ret;

	if (!real_d_lookup_rcu || (READ_ONCE(dir->d_flags) & DCACHE_OP_HASH) || !d_can_lookup(dir))
		return -1;
	q.name = name;
	q.hash_len = hashlen_string(dir, name);
	if (hashlen_len(q.hash_len) > NAME_MAX)
		return -1;
	d = real_d_lookup_rcu(dir, &q, &seq);
	if (!d || (READ_ONCE(d->d_flags) & DCACHE_OP_REVALIDATE))
		return -1;
	ret = d_is_symlink(d) ? 0 : 1;
	return read_seqcount_retry(&d->d_seq, seq) ? -1 : ret;
}

/* kmv_walk_cached from kmv_ftrace: a hit decided by the dcache, else 0 (the hook decides). */
static int kmv_walk_cached_rcu(struct kmv_task *kt, char *path)
{
	char *slash = strrchr(path, '/');
	size_t dlen = slash - path;
	struct dentry *dir = NULL;

	if (dlen == 0 || dlen >= KMV_WALK_CACHE_LEN || !slash[1])
		return 0;
	spin_lock(&kt->wc_lock);
	if (kt->wc_dir.dentry && kt->wc_gen == atomic64_read(&kmv_walk_gen) &&
	    kt->wc_len == dlen && !memcmp(kt->wc_str, path, dlen) &&
	    time_before(jiffies, kt->wc_stamp + msecs_to_jiffies(KMV_WALK_CACHE_MS)))
		dir = kt->wc_dir.dentry; /* freed a grace period after its last put at the earliest */
	spin_unlock(&kt->wc_lock);
	return dir && kmv_name_plain_rcu(dir, slash + 1) == 1;
}

/*
 * kmv_walk_outside's common case made cheap (ls -lR and git status name many files of one
 * directory by path): path (absolute, normalized, no "..") is a directory and a last name. The
 * directory is the one kt's cache holds (walked from the root with no symlink less than
 * KMV_WALK_CACHE_MS ago, and no traced task has started a call since that can change a walk),
 * or it is walked now, LOOKUP_NO_SYMLINKS, and cached; the last name is then looked up in it,
 * as kmv_single_name_plain does. 1: the path's walk meets no symlink (or fails before one);
 * 0: kmv_walk_outside decides (a symlink, an error, a directory too long to cache). A change the
 * host makes outside the view is seen within KMV_WALK_CACHE_MS, as with the ptrace engine's
 * WalkCache. May sleep.
 */
static int kmv_walk_cached(struct kmv_task *kt, char *path)
{
	char *slash = strrchr(path, '/');
	size_t dlen = slash - path, nlen = strlen(slash + 1);
	struct path dir = {}, old = {};
	unsigned long stamp = jiffies;
	u64 gen = atomic64_read(&kmv_walk_gen);
	struct dentry *d;
	bool hit = false;
	int ret = 0;

	if (dlen == 0 || dlen >= KMV_WALK_CACHE_LEN || !nlen)
		return 0;
	spin_lock(&kt->wc_lock);
	if (kt->wc_dir.dentry && kt->wc_gen == gen && kt->wc_len == dlen &&
	    !memcmp(kt->wc_str, path, dlen) &&
	    time_before(stamp, kt->wc_stamp + msecs_to_jiffies(KMV_WALK_CACHE_MS))) {
		dir = kt->wc_dir; /* taken out while in use: the expiry does not drop it */
		kt->wc_dir.dentry = NULL;
		kt->wc_dir.mnt = NULL;
		hit = true;
	}
	spin_unlock(&kt->wc_lock);
	if (!hit) {
		int err;

		*slash = 0;
		err = kern_path(path, LOOKUP_FOLLOW | LOOKUP_NO_SYMLINKS | LOOKUP_DIRECTORY, &dir);
		*slash = '/';
		if (err)
			return 0;
	}
	d = lookup_one_len_unlocked(slash + 1, dir.dentry, nlen);
	if (!IS_ERR(d)) {
		ret = !d_is_symlink(d);
		dput(d);
	} else if (PTR_ERR(d) == -EACCES || PTR_ERR(d) == -ENAMETOOLONG) {
		ret = 1;
	}
	spin_lock(&kt->wc_lock);
	old = kt->wc_dir; /* empty after a hit: only this task fills the cache */
	kt->wc_dir = dir;
	if (!hit) {
		kt->wc_stamp = stamp;
		kt->wc_gen = gen;
		kt->wc_len = dlen;
		memcpy(kt->wc_str, path, dlen);
	}
	if (!kt->wc_queued) {
		kt->wc_queued = true;
		refcount_inc(&kt->ref);
		queue_delayed_work(kmv_wq, &kt->wc_work, msecs_to_jiffies(KMV_WALK_CACHE_MS) + 1);
	}
	spin_unlock(&kt->wc_lock);
	path_put(&old);
	return ret;
}

/*
 * The common case of a relative path, a single name (find's and ls's newfstatat(dirfd, "name"),
 * tar's openat(dirfd, "name")): its walk meets a symlink only if that name is one, so it is
 * looked up in the cwd or dirfd itself (lookup_one_len_unlocked: the dcache, else the
 * filesystem) instead of walked from the root. 1: no symlink, or the call fails before one (no
 * search permission, not a directory, a name too long; a name that does not exist is a negative
 * dentry); 0: the name is a symlink; -1: cannot tell. May sleep.
 */
static int kmv_single_name_plain(const struct pt_regs *regs, int dirfd_arg, const char *name,
				 long n)
{
	int dfd = dirfd_arg >= 0 ? (int)kmv_arg(regs, dirfd_arg) : AT_FDCWD;
	struct path base;
	struct dentry *d;
	int ret = 1;

	if (dfd == AT_FDCWD) {
		get_fs_pwd(current->fs, &base);
	} else {
		struct fd f = fdget(dfd);

		if (!f.file)
			return -1;
		base = f.file->f_path;
		path_get(&base);
		fdput(f);
	}
	if (d_can_lookup(base.dentry)) {
		d = lookup_one_len_unlocked(name, base.dentry, n);
		if (!IS_ERR(d)) {
			ret = d_is_symlink(d) ? 0 : 1;
			dput(d);
		} else if (PTR_ERR(d) != -EACCES && PTR_ERR(d) != -ENAMETOOLONG) {
			ret = -1;
		}
	}
	path_put(&base);
	return ret;
}

/* kmv_single_name_plain from kmv_ftrace, by the dcache alone (kmv_name_plain_rcu). Under RCU. */
static int kmv_single_name_plain_rcu(const struct pt_regs *regs, int dirfd_arg, const char *name)
{
	int dfd = dirfd_arg >= 0 ? (int)kmv_arg(regs, dirfd_arg) : AT_FDCWD;
	struct path base;
	struct fd f;
	int ret;

	if (dfd == AT_FDCWD) {
		kmv_pwd_rcu(&base);
		return kmv_name_plain_rcu(base.dentry, name);
	}
	f = fdget(dfd);
	if (!f.file)
		return -1;
	ret = kmv_name_plain_rcu(f.file->f_path.dentry, name);
	fdput(f);
	return ret;
}

/*
 * True if the path in (dirfd, path) may lie under one of tr's prefixes. Absolute paths are
 * compared as given; relative ones are appended to the kernel's path of the cwd or dirfd unless
 * they hold "..". A path outside by name is then walked for symlinks (kmv_walk_outside), which
 * needs to sleep: atomic callers get "inside" and the hook asks again. Whatever cannot be
 * decided cheaply (unreadable path, AT_EMPTY_PATH, "..", a dirfd that is not open, a symlink on
 * the way) counts as inside.
 */
static bool kmv_path_inside(struct kmv_task *kt, struct kmv_tracer *tr,
			    const struct pt_regs *regs, int dirfd_arg, int path_arg, char *buf,
			    char *base_buf, bool atomic)
{
	const char __user *up = (const char __user *)kmv_arg(regs, path_arg);
	long n;
	char *full = buf;
	int scan;

	if (atomic) { /* a page fault would sleep: leave such a path to the call's hook */
		pagefault_disable();
		n = kmv_copy_path(buf, up);
		pagefault_enable();
	} else {
		n = kmv_copy_path(buf, up);
	}
	if (n < 0)
		return true;
	scan = kmv_scan_path(buf);
	if (scan < 0)
		return true;
	if (buf[0] != '/') {
		int dfd = dirfd_arg >= 0 ? (int)kmv_arg(regs, dirfd_arg) : AT_FDCWD;
		struct path base;
		char *b;
		size_t blen;

		if (dfd == AT_FDCWD) {
			rcu_read_lock();
			kmv_pwd_rcu(&base);
			b = kmv_relative_base(&base, n, base_buf);
			rcu_read_unlock();
		} else {
			/* The descriptor's reference keeps f_path alive: no path_get needed. */
			struct fd f = fdget(dfd);

			if (!f.file)
				return true;
			b = kmv_relative_base(&f.file->f_path, n, base_buf);
			fdput(f);
		}
		if (!b)
			return true;
		blen = strlen(b);
		if (blen + 1 + n >= PATH_MAX)
			return true;
		memmove(base_buf, b, blen);
		base_buf[blen] = '/';
		memcpy(base_buf + blen + 1, buf, n + 1);
		full = base_buf;
		if (blen == 1 || n == 0) /* "/" + "/" + path, or base + "/" */
			scan = 1;
	}
	if (scan)
		kmv_normalize(full);
	if (kmv_under_prefix(tr, full, buf[0] == '/'))
		return true;
	if (buf[0] != '/' && n == 0) /* AT_EMPTY_PATH: the base itself, a plain object by its path */
		return false;
	if (atomic) /* what the dcache tells without sleeping; the rest is the hook's */
		return buf[0] != '/' && !strchr(buf, '/') ?
			       kmv_single_name_plain_rcu(regs, dirfd_arg, buf) != 1 :
			       !kmv_walk_cached_rcu(kt, full);
	if (buf[0] != '/' && !strchr(buf, '/')) {
		int plain = kmv_single_name_plain(regs, dirfd_arg, buf, n);

		if (plain)
			return plain < 0;
	} else if (kmv_walk_cached(kt, full) > 0) {
		return false;
	}
	/* Relative to the cwd, kern_path walks only the path's own names. */
	if (buf[0] != '/' && (dirfd_arg < 0 || (int)kmv_arg(regs, dirfd_arg) == AT_FDCWD) &&
	    strchr(buf, '/'))
		return !kmv_walk_outside(tr, full, buf, buf);
	return !kmv_walk_outside(tr, full, full == buf ? base_buf : buf, NULL);
}

/*
 * The descriptor prefilter (KMVIEW_IOC_FD_PREFILTER): true if the object of call nr may concern
 * tr: for getcwd the cwd, at or under a prefix; else the file of the descriptor in the first
 * argument, at or under a prefix or a directory above one. Whatever cannot be decided by a plain
 * path (no such descriptor, a pipe or FIFO, a removed file) counts as wanted.
 */
static bool kmv_fd_wanted(struct kmv_tracer *tr, const struct pt_regs *regs, long nr, char *buf)
{
	bool cwd = nr == __NR_getcwd, wanted;
	const struct kmv_prefixes *pf;
	char *b;

	if (cwd) {
		struct path obj;

		rcu_read_lock();
		kmv_pwd_rcu(&obj);
		b = kmv_plain_object(&obj) ? kmv_base_path(&obj, buf) : NULL;
		rcu_read_unlock();
	} else {
		/* The descriptor's reference keeps f_path alive: no path_get needed. */
		struct fd f = fdget((int)regs->di);

		if (!f.file)
			return true;
		b = kmv_plain_object(&f.file->f_path) ? kmv_base_path(&f.file->f_path, buf) : NULL;
		fdput(f);
	}
	if (!b)
		return true;
	rcu_read_lock();
	pf = rcu_dereference(tr->prefixes);
	wanted = !pf || kmv_in_prefixes(pf, b, false) || (!cwd && kmv_above_prefix(pf, b));
	rcu_read_unlock();
	return wanted;
}

/* Does att's bitmap (or marked bitmap) ask for call nr (0 <= nr < KMVIEW_NR_BITMAP)? */
static bool kmv_bit_wanted(const struct kmv_att *att, long nr)
{
	const struct kmv_tracer *tr = att->tr;

	return (READ_ONCE(tr->flags) & KMVIEW_CFG_TRAP_ALL) || test_bit(nr, tr->bitmap) ||
	       (READ_ONCE(att->marked) && test_bit(nr, tr->marked_bitmap));
}

/* kt's two PATH_MAX buffers (made on first use), or NULL. Only kt's task, in syscall context. */
static char *kmv_pathbuf(struct kmv_task *kt)
{
	if (!kt->pathbuf)
		kt->pathbuf = kmalloc(2 * PATH_MAX, GFP_KERNEL);
	return kt->pathbuf;
}

/*
 * Do att's prefilters let call nr of kt's task run unseen (its path or descriptor lies outside
 * every prefix)? False when they cannot tell. atomic: called where sleeping is not allowed
 * (kmv_ftrace): a path that would need a page fault to read, or a first call without the task's
 * buffers, is left to the hook (which asks again, and may sleep).
 */
static bool kmv_prefilter_outside(struct kmv_task *kt, struct kmv_att *att,
				  const struct pt_regs *regs, long nr, bool atomic)
{
	struct kmv_tracer *tr = att->tr;
	struct kmv_path_args pa;
	char *buf;
	int i;

	if (!rcu_access_pointer(tr->prefixes))
		return false;
	if (test_bit(nr, tr->fd_bitmap)) {
		buf = atomic ? kt->pathbuf : kmv_pathbuf(kt);
		return buf && !kmv_fd_wanted(tr, regs, nr, buf);
	}
	if (!kmv_path_call(nr, &pa))
		return false;
	buf = atomic ? kt->pathbuf : kmv_pathbuf(kt);
	if (!buf)
		return false;
	for (i = 0; i < 2 && pa.path[i] >= 0; i++)
		if (kmv_path_inside(kt, tr, regs, pa.dirfd[i], pa.path[i], buf, buf + PATH_MAX, atomic))
			return false;
	return true;
}

/* Does att's tracer want an entry event for this call of kt's task? May sleep. */
static bool kmv_wants(struct kmv_task *kt, struct kmv_att *att, const struct pt_regs *regs,
		      long nr)
{
	if (nr < 0 || nr >= KMVIEW_NR_BITMAP)
		return true;
	if (!kmv_bit_wanted(att, nr))
		return false;
	if (kmv_prefilter_outside(kt, att, regs, nr, false)) {
		this_cpu_inc(kmv_filtered);
		return false;
	}
	return true;
}

/* ---- the system call path --------------------------------------------------------------- */

static void kmv_fill_regs(struct kmview_event *ev, const struct pt_regs *regs, long nr)
{
	int i;

	ev->nr = nr;
	for (i = 0; i < 6; i++)
		ev->args[i] = kmv_arg(regs, i);
	ev->ip = regs->ip;
	ev->sp = regs->sp;
	ev->arch = AUDIT_ARCH_X86_64;
}

/* The scratch area of att in the current address space, made on first use after each exec. */
static void kmv_scratch(struct kmv_att *att, struct kmview_event *ev)
{
	struct kmv_tracer *tr = att->tr;
	unsigned long addr;

	if (!(READ_ONCE(tr->flags) & KMVIEW_CFG_SCRATCH) || !current->mm)
		return;
	if (att->scratch_mm != current->mm) {
		addr = vm_mmap(NULL, 0, tr->scratch_size, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, 0);
		if (IS_ERR_VALUE(addr))
			return;
		att->scratch = addr;
		att->scratch_mm = current->mm;
	}
	ev->scratch = att->scratch;
	ev->scratch_size = tr->scratch_size;
}

/*
 * Runs call nr. Never as a tail call: kmv_ftrace lets the call through only because its caller
 * is this module; a jump would leave the caller's caller as parent_ip, and the call would be
 * redirected here again, forever.
 */
static long kmv_call_real(const struct pt_regs *regs, unsigned int nr)
{
	long ret = real_x64_sys_call(regs, nr);

	barrier();
	return ret;
}

static long kmv_run(struct pt_regs *regs, long nr)
{
	if (nr >= 0 && nr < NR_syscalls)
		return kmv_call_real(regs, nr);
	return -ENOSYS;
}

static u64 kmv_clone_flags(const struct pt_regs *regs, long nr)
{
	u64 flags = 0;

	switch (nr) {
	case __NR_clone:
		return regs->di;
	case __NR_fork:
		return SIGCHLD;
	case __NR_vfork:
		return CLONE_VM | CLONE_VFORK | SIGCHLD;
	case __NR_clone3:
		if (regs->si >= sizeof(u64) &&
		    copy_from_user(&flags, (void __user *)regs->di, sizeof(flags)))
			flags = 0;
		return flags;
	}
	return 0;
}

/* A traced task makes call nr: walk its tracers, run (or skip) the call, report exits. */
static long kmv_traced_call(struct kmv_task *kt, struct pt_regs *regs, long nr)
{
	struct kmv_att *atts[KMV_MAX_NEST];
	bool want_exit[KMV_MAX_NEST] = {};
	struct kmview_event ev;
	struct kmview_reply reply;
	int n = 0, i, stop_at = -1;
	bool skipped = false;
	long ret = 0;

	/* No global lock: the list is RCU; an attachment being undone (its last reference gone)
	 * is passed over, as if unlinked before the call. */
	rcu_read_lock();
	{
		struct kmv_att *att;

		list_for_each_entry_rcu(att, &kt->atts, task_node)
			if (n < KMV_MAX_NEST && kref_get_unless_zero(&att->ref))
				atts[n++] = att;
	}
	rcu_read_unlock();

	/* Entry: the last attached tracer first, each seeing what the later ones made of it. */
	for (i = n - 1; i >= 0; i--) {
		struct kmv_tracer *tr = atts[i]->tr;

		if (READ_ONCE(tr->closed) || !kmv_wants(kt, atts[i], regs, nr))
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.type = KMVIEW_EV_SYSCALL_ENTRY;
		ev.tid = task_pid_vnr(current);
		ev.pid = task_tgid_vnr(current);
		kmv_fill_regs(&ev, regs, nr);
		kmv_scratch(atts[i], &ev);
		if (kmv_stop(kt, tr, &ev, &reply)) {
			skipped = true;
			ret = -EINTR;
			stop_at = i;
			break;
		}
		if (reply.action == KMVIEW_SKIP) {
			skipped = true;
			ret = reply.value;
			stop_at = i;
			break;
		}
		if (reply.change & KMVIEW_REPLY_NR) {
			nr = reply.nr;
			regs->orig_ax = nr;
		}
		if (reply.change & KMVIEW_REPLY_ARGS) {
			int j;

			for (j = 0; j < 6; j++)
				kmv_set_arg(regs, j, reply.args[j]);
		}
		want_exit[i] = reply.action == KMVIEW_RUN_REPORT_EXIT;
	}

	if (!skipped) {
		bool any_exit = false;

		for (i = 0; i < n; i++)
			any_exit |= want_exit[i];
		if (!any_exit && (nr == __NR_exit || nr == __NR_exit_group)) {
			/* Never returns: drop what we hold first. */
			for (i = 0; i < n; i++)
				kmv_att_put(atts[i]);
			kmv_task_put(kt);
			return kmv_run(regs, nr);
		}
		kt->clone_flags = kmv_clone_flags(regs, nr);
		ret = kmv_run(regs, nr);
		kt->clone_flags = 0; /* calls that skip the hook never make a thread or process */
	}

	/* Exit: in attach order, to those that asked (a skip still reports to them). */
	for (i = 0; i < n; i++) {
		struct kmv_tracer *tr = atts[i]->tr;

		if (!want_exit[i] || READ_ONCE(tr->closed) || fatal_signal_pending(current))
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.type = KMVIEW_EV_SYSCALL_EXIT;
		ev.tid = task_pid_vnr(current);
		ev.pid = task_tgid_vnr(current);
		kmv_fill_regs(&ev, regs, nr);
		ev.ret = ret;
		if (kmv_stop(kt, tr, &ev, &reply))
			break;
		if (reply.action == KMVIEW_SET_RETURN)
			ret = reply.value;
	}
	(void)stop_at;
	for (i = 0; i < n; i++)
		kmv_att_put(atts[i]);
	kmv_task_put(kt);
	return ret;
}

/*
 * Replaces x64_sys_call(regs, nr) for the calls of traced tasks the hook has work for. kmv_ftrace
 * passes the task's kmv_task, with a reference this function owns, as a third argument (rdx is
 * free: x64_sys_call takes two), so that the hash is searched once per call.
 */
static long kmv_x64_sys_call(const struct pt_regs *cregs, unsigned int nr, struct kmv_task *kt)
{
	long real_nr;

	if (WARN_ON_ONCE(!kt || kt->task != current)) { /* cannot happen: kmv_ftrace's lookup */
		if (kt)
			kmv_task_put(kt);
		return kmv_call_real(cregs, nr);
	}
	real_nr = kt->oot_nr;
	if (real_nr) { /* turned into getpid by kmv_on_sys_enter */
		kt->oot_nr = 0;
		((struct pt_regs *)cregs)->orig_ax = real_nr;
		return kmv_traced_call(kt, (struct pt_regs *)cregs, real_nr);
	}
	return kmv_traced_call(kt, (struct pt_regs *)cregs, nr);
}

/*
 * Calls beyond the table (umview's control call) never reach x64_sys_call, and 6.1 builds
 * __x64_sys_ni_syscall without ftrace. So the raw sys_enter tracepoint (registered only while a
 * tracer is open: it sends every task through the slow syscall path) turns such a call of a traced
 * task into getpid, which the hook then reports under its real number. Since 6.1.84 the number is
 * re-read after the tracepoint.
 */
static void kmv_on_sys_enter(void *data, struct pt_regs *regs, long id)
{
	struct kmv_task *kt;

	if ((unsigned long)id < NR_syscalls || id == -1 || !atomic_read(&kmv_ntasks))
		return;
	rcu_read_lock();
	kt = kmv_find(current);
	if (kt) {
		kt->oot_nr = id;
		regs->orig_ax = __NR_getpid;
	}
	rcu_read_unlock();
}

static struct tracepoint *kmv_sys_enter_tp;
static DEFINE_MUTEX(kmv_sys_enter_lock);
static int kmv_sys_enter_users;

static void kmv_sys_enter_get(void)
{
	mutex_lock(&kmv_sys_enter_lock);
	if (kmv_sys_enter_users++ == 0 && kmv_sys_enter_tp &&
	    tracepoint_probe_register(kmv_sys_enter_tp, kmv_on_sys_enter, NULL))
		pr_info("kmview: sys_enter probe failed: out-of-table calls not reported\n");
	mutex_unlock(&kmv_sys_enter_lock);
}

static void kmv_sys_enter_put(void)
{
	mutex_lock(&kmv_sys_enter_lock);
	if (--kmv_sys_enter_users == 0 && kmv_sys_enter_tp)
		tracepoint_probe_unregister(kmv_sys_enter_tp, kmv_on_sys_enter, NULL);
	mutex_unlock(&kmv_sys_enter_lock);
}

/*
 * Under RCU, not sleeping: has the hook any work for call nr of kt's task (registers regs)? Only
 * if a tracer's bitmap asks for nr (as the call comes in: a tracer can change the number only at
 * a stop) and its prefilters do not let the call through, nr is beyond the bitmaps, nr stands for
 * a call beyond the table (oot_nr), or nr makes a process or thread (the fork tracepoint reports
 * the clone flags the hook saw). Otherwise the call runs as if untraced: no redirection, no
 * reference, no lock. With the prefilters deciding here a filtered call costs a lookup, the
 * path's copy and compare (and a d_path for relative and descriptor calls), without the
 * redirection, the references and the second pass through ftrace of the hook.
 */
static bool notrace kmv_hook_needed(struct kmv_task *kt, const struct pt_regs *regs,
				    unsigned int nr)
{
	struct kmv_att *att;
	bool filtered = false;

	switch (nr) {
	/* Calls that can put a symlink or a mount on a path's walk: the walk caches are stale. */
	case __NR_rename: case __NR_renameat: case __NR_renameat2: case __NR_unlink:
	case __NR_unlinkat: case __NR_rmdir: case __NR_symlink: case __NR_symlinkat:
	case __NR_mount: case __NR_umount2: case __NR_move_mount: case __NR_mount_setattr:
	case __NR_pivot_root: case __NR_chroot: case __NR_setns: case __NR_unshare:
		atomic64_inc(&kmv_walk_gen);
		break;
	}
	if (nr >= KMVIEW_NR_BITMAP || READ_ONCE(kt->oot_nr))
		return true;
	switch (nr) {
	case __NR_clone: case __NR_clone3: case __NR_fork: case __NR_vfork:
		return true;
	}
	list_for_each_entry_rcu(att, &kt->atts, task_node) {
		if (READ_ONCE(att->tr->closed) || !kmv_bit_wanted(att, nr))
			continue;
		/* Wanted by number: the prefilters decide here when they can, so that a call
		 * outside every view is not redirected at all. */
		if (!kmv_prefilter_outside(kt, att, regs, nr, true))
			return true;
		filtered = true;
	}
	if (filtered)
		this_cpu_inc(kmv_filtered);
	return false;
}

/* The ftrace callback on x64_sys_call(regs, nr): traced tasks' calls that need the hook go to
 * kmv_x64_sys_call, with their kmv_task (referenced) in rdx. */
static void notrace kmv_ftrace(unsigned long ip, unsigned long parent_ip, struct ftrace_ops *ops,
			       struct ftrace_regs *fregs)
{
	struct pt_regs *regs = ftrace_get_regs(fregs);
	struct kmv_task *kt;

	if (!regs || !atomic_read(&kmv_ntasks) || within_module(parent_ip, THIS_MODULE))
		return;
	rcu_read_lock();
	kt = kmv_find(current);
	/* x64_sys_call(regs, nr): the call's registers in rdi, its number in rsi. */
	if (kt && kmv_hook_needed(kt, (const struct pt_regs *)regs->di, (unsigned int)regs->si) &&
	    refcount_inc_not_zero(&kt->ref)) {
		regs->dx = (unsigned long)kt;
		regs->ip = (unsigned long)kmv_x64_sys_call;
	}
	rcu_read_unlock();
}

static struct ftrace_ops kmv_ops = {
	.func = kmv_ftrace,
	.flags = FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_RECURSION | FTRACE_OPS_FL_IPMODIFY,
};

/* ---- process events (tracepoints: no sleeping) ---------------------------------------- */

static void kmv_on_fork(void *data, struct task_struct *parent, struct task_struct *child)
{
	struct kmv_task *pkt, *ckt;
	struct kmv_att *att;
	struct kmview_event ev = {};

	if (!atomic_read(&kmv_ntasks))
		return;
	spin_lock(&kmv_lock);
	pkt = kmv_find(current);
	if (!pkt)
		goto out;
	ckt = kmv_task_new(child, GFP_ATOMIC);
	if (!ckt)
		goto out;
	ev.type = KMVIEW_EV_NEW_THREAD;
	ev.tid = task_pid_vnr(child);
	ev.pid = task_tgid_vnr(child);
	ev.a = task_pid_vnr(current);
	ev.flags = pkt->clone_flags;
	list_for_each_entry(att, &pkt->atts, task_node) {
		if (att->tr->closed || kmv_link(ckt, att->tr, att->marked, GFP_ATOMIC))
			continue;
		kmv_queue(att->tr, &ev, GFP_ATOMIC);
	}
	if (ckt->natts == 0) {
		kmv_task_unhash(ckt);
		spin_unlock(&kmv_lock);
		kmv_task_put(ckt);
		return;
	}
out:
	spin_unlock(&kmv_lock);
}

static void kmv_on_exec(void *data, struct task_struct *p, pid_t old_pid,
			struct linux_binprm *bprm)
{
	struct kmv_task *kt;
	struct kmv_att *att;
	struct kmview_event ev = {};

	if (!atomic_read(&kmv_ntasks))
		return;
	spin_lock(&kmv_lock);
	kt = kmv_find(p);
	if (kt) {
		ev.type = KMVIEW_EV_EXEC;
		ev.tid = task_pid_vnr(p);
		ev.pid = task_tgid_vnr(p);
		ev.a = old_pid;
		list_for_each_entry(att, &kt->atts, task_node) {
			att->scratch_mm = NULL;
			kmv_queue(att->tr, &ev, GFP_ATOMIC);
		}
	}
	spin_unlock(&kmv_lock);
}

static void kmv_on_exit(void *data, struct task_struct *p)
{
	struct kmv_task *kt;
	struct kmv_att *att, *tmp;
	struct kmview_event ev = {};
	LIST_HEAD(gone);

	if (!atomic_read(&kmv_ntasks))
		return;
	spin_lock(&kmv_lock);
	kt = kmv_find(p);
	if (!kt) {
		spin_unlock(&kmv_lock);
		return;
	}
	ev.type = KMVIEW_EV_THREAD_EXIT;
	ev.tid = task_pid_vnr(p);
	ev.pid = task_tgid_vnr(p);
	ev.status = p->exit_code;
	list_for_each_entry_safe(att, tmp, &kt->atts, task_node) {
		kmv_queue(att->tr, &ev, GFP_ATOMIC);
		kmv_unlink(att);
		/* task_node must keep leading on for RCU readers: tr_node is free now. */
		list_add(&att->tr_node, &gone);
	}
	spin_unlock(&kmv_lock);
	list_for_each_entry_safe(att, tmp, &gone, tr_node)
		kmv_att_put(att);
	/* The walk cache's reference goes now (path_put may sleep: not here), not 50 ms later. */
	spin_lock(&kt->wc_lock);
	kt->wc_exited = true;
	if (kt->wc_queued)
		mod_delayed_work(kmv_wq, &kt->wc_work, 0);
	spin_unlock(&kt->wc_lock);
	kmv_task_put(kt);
}

struct kmv_tp {
	const char *name;
	void *probe;
	struct tracepoint *tp;
};

static struct kmv_tp kmv_tps[] = {
	{ "sched_process_fork", kmv_on_fork },
	{ "sched_process_exec", kmv_on_exec },
	{ "sched_process_exit", kmv_on_exit },
};

static void kmv_find_tp(struct tracepoint *tp, void *priv)
{
	int i;

	if (!strcmp(tp->name, "sys_enter"))
		kmv_sys_enter_tp = tp;
	for (i = 0; i < ARRAY_SIZE(kmv_tps); i++)
		if (!strcmp(tp->name, kmv_tps[i].name))
			kmv_tps[i].tp = tp;
}

/* ---- attach ------------------------------------------------------------------------------ */

static bool kmv_may_trace(struct task_struct *task)
{
	return real_ptrace_may_access(task, PTRACE_MODE_ATTACH_REALCREDS);
}

/* Attaches task to tr. Setuid exec under a tracer must not gain privileges: no_new_privs. */
static int kmv_attach_task(struct kmv_tracer *tr, struct task_struct *task)
{
	struct kmv_task *kt, *fresh = NULL;
	int err;

	if (task->flags & (PF_KTHREAD | PF_EXITING))
		return -EPERM;
	task_set_no_new_privs(task);
	spin_lock(&kmv_lock);
	kt = kmv_find(task);
	if (!kt)
		kt = fresh = kmv_task_new(task, GFP_ATOMIC);
	err = kt ? kmv_link(kt, tr, false, GFP_ATOMIC) : -ENOMEM;
	if (err && fresh)
		kmv_task_unhash(fresh);
	spin_unlock(&kmv_lock);
	if (err && fresh)
		kmv_task_put(fresh);
	return err;
}

static int kmv_attach_pid(struct kmv_tracer *tr, pid_t pid)
{
	struct task_struct *leader = get_pid_task(find_vpid(pid), PIDTYPE_PID), *t;
	struct task_struct *threads[64];
	int n = 0, i, err = 0;

	if (!leader)
		return -ESRCH;
	if (!kmv_may_trace(leader)) {
		put_task_struct(leader);
		return -EPERM;
	}
	rcu_read_lock();
	for_each_thread(leader, t) {
		if (n == ARRAY_SIZE(threads)) {
			err = -E2BIG;
			break;
		}
		get_task_struct(t);
		threads[n++] = t;
	}
	rcu_read_unlock();
	for (i = 0; i < n; i++) {
		if (!err)
			err = kmv_attach_task(tr, threads[i]);
		put_task_struct(threads[i]);
	}
	put_task_struct(leader);
	return err;
}

/* ---- memory ----------------------------------------------------------------------------- */

/* The task pid names, if tr traces it or could ptrace it. */
static struct task_struct *kmv_mem_task(struct kmv_tracer *tr, pid_t pid)
{
	struct task_struct *task = get_pid_task(find_vpid(pid), PIDTYPE_PID);
	struct kmv_task *kt;
	bool ok = false;

	if (!task)
		return ERR_PTR(-ESRCH);
	rcu_read_lock();
	kt = kmv_find(task);
	if (kt) {
		struct kmv_att *att;

		spin_lock(&kmv_lock);
		list_for_each_entry(att, &kt->atts, task_node)
			ok |= att->tr == tr;
		spin_unlock(&kmv_lock);
	}
	rcu_read_unlock();
	if (!ok && !kmv_may_trace(task)) {
		put_task_struct(task);
		return ERR_PTR(-EPERM);
	}
	return task;
}

static long kmv_mem_op(struct kmv_tracer *tr, struct kmview_mem *m)
{
	struct task_struct *task;
	char *page;
	u64 done = 0;
	long ret = 0;

	if (m->len > (1u << 30))
		return -EINVAL;
	task = kmv_mem_task(tr, m->pid);
	if (IS_ERR(task))
		return PTR_ERR(task);
	page = (char *)__get_free_page(GFP_KERNEL);
	if (!page) {
		put_task_struct(task);
		return -ENOMEM;
	}
	while (done < m->len) {
		u64 addr = m->addr + done;
		/* Never cross a page in one access: a string must not fault past its NUL. */
		size_t chunk = min_t(u64, m->len - done, PAGE_SIZE - (addr & ~PAGE_MASK));
		void __user *ubuf = (void __user *)(m->buf + done);
		int got;

		if (m->op == KMVIEW_MEM_WRITE) {
			if (copy_from_user(page, ubuf, chunk)) {
				ret = -EFAULT;
				break;
			}
			got = access_process_vm(task, addr, page, chunk, FOLL_FORCE | FOLL_WRITE);
		} else {
			got = access_process_vm(task, addr, page, chunk, FOLL_FORCE);
		}
		if (got != chunk) {
			ret = -EFAULT;
			break;
		}
		if (m->op == KMVIEW_MEM_STRING) {
			char *nul = memchr(page, 0, chunk);

			if (copy_to_user(ubuf, page, nul ? nul - page + 1 : chunk)) {
				ret = -EFAULT;
				break;
			}
			if (nul) {
				ret = done + (nul - page);
				goto out;
			}
		} else if (m->op == KMVIEW_MEM_READ && copy_to_user(ubuf, page, chunk)) {
			ret = -EFAULT;
			break;
		}
		done += chunk;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
	}
	if (!ret)
		ret = m->op == KMVIEW_MEM_STRING ? -ENAMETOOLONG : (long)m->len;
out:
	free_page((unsigned long)page);
	put_task_struct(task);
	return ret;
}

/* ---- the device ------------------------------------------------------------------------- */

static long kmv_reply(struct kmv_tracer *tr, const struct kmview_reply *r)
{
	struct task_struct *task = get_pid_task(find_vpid(r->tid), PIDTYPE_PID);
	struct kmv_task *kt;
	long ret = -ESRCH;

	if (!task)
		return -ESRCH;
	kt = kmv_get(task);
	put_task_struct(task);
	if (!kt)
		return -ESRCH;
	if (r->action > KMVIEW_KEEP_RETURN) {
		kmv_task_put(kt);
		return -EINVAL;
	}
	spin_lock(&kt->lock);
	if (kt->waiting_on == tr && kt->seq == r->seq && !kt->replied) {
		kt->reply = *r;
		WRITE_ONCE(kt->replied, true);
		ret = 0;
	}
	spin_unlock(&kt->lock);
	if (!ret)
		wake_up(&kt->wq);
	kmv_task_put(kt);
	return ret;
}

static long kmv_multi(struct kmv_tracer *tr, struct kmview_multi __user *um)
{
	struct kmview_multi m;
	u32 i;

	if (copy_from_user(&m, um, sizeof(m)))
		return -EFAULT;
	if (m.nops > 1024)
		return -E2BIG;
	for (i = 0; i < m.nops; i++) {
		struct kmview_mem __user *uop = (struct kmview_mem __user *)m.ops + i;
		struct kmview_mem op;

		if (copy_from_user(&op, uop, sizeof(op)))
			return -EFAULT;
		op.result = kmv_mem_op(tr, &op);
		if (put_user(op.result, &uop->result))
			return -EFAULT;
	}
	if (m.has_reply) {
		m.reply_result = kmv_reply(tr, &m.reply);
		if (put_user(m.reply_result, &um->reply_result))
			return -EFAULT;
	}
	return 0;
}

/* Marks the threads of tid's thread group that tr traces (their later children and threads
 * inherit the mark): the marked bitmap applies to them from now on. */
static long kmv_mark(struct kmv_tracer *tr, pid_t tid)
{
	struct task_struct *task = get_pid_task(find_vpid(tid), PIDTYPE_PID), *t;
	int n = 0;

	if (!task)
		return -ESRCH;
	spin_lock(&kmv_lock);
	rcu_read_lock();
	for_each_thread(task, t) {
		struct kmv_task *kt = kmv_find(t);
		struct kmv_att *att;

		if (!kt)
			continue;
		list_for_each_entry(att, &kt->atts, task_node) {
			if (att->tr == tr) {
				WRITE_ONCE(att->marked, true);
				n++;
			}
		}
	}
	rcu_read_unlock();
	spin_unlock(&kmv_lock);
	put_task_struct(task);
	return n ? 0 : -ESRCH;
}

static void kmv_set_bitmap(unsigned long *bits, const __u64 *from)
{
	int i;

	for (i = 0; i < KMVIEW_NR_BITMAP; i++)
		assign_bit(i, bits, from[i / 64] & (1ULL << (i % 64)));
}

static long kmv_set_prefixes(struct kmv_tracer *tr, const struct kmview_prefixes *p)
{
	struct kmv_prefixes *pf = NULL, *old;

	if (p->len > 64 * 1024)
		return -E2BIG;
	if (p->len) {
		pf = kmalloc(struct_size(pf, s, p->len), GFP_KERNEL);
		if (!pf)
			return -ENOMEM;
		if (copy_from_user(pf->s, (const void __user *)p->buf, p->len)) {
			kfree(pf);
			return -EFAULT;
		}
		if (pf->s[p->len - 1] != 0) {
			kfree(pf);
			return -EINVAL;
		}
		pf->len = p->len;
	}
	mutex_lock(&tr->prefix_lock);
	old = rcu_replace_pointer(tr->prefixes, pf, lockdep_is_held(&tr->prefix_lock));
	mutex_unlock(&tr->prefix_lock);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

static long kmv_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kmv_tracer *tr = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case KMVIEW_IOC_ATTACH_SELF:
		return kmv_attach_task(tr, current);
	case KMVIEW_IOC_ATTACH_PID:
		return kmv_attach_pid(tr, (pid_t)arg);
	case KMVIEW_IOC_REPLY: {
		struct kmview_reply r;

		if (copy_from_user(&r, uarg, sizeof(r)))
			return -EFAULT;
		return kmv_reply(tr, &r);
	}
	case KMVIEW_IOC_MEM: {
		struct kmview_mem m;

		if (copy_from_user(&m, uarg, sizeof(m)))
			return -EFAULT;
		if (m.op < KMVIEW_MEM_READ || m.op > KMVIEW_MEM_STRING)
			return -EINVAL;
		m.result = kmv_mem_op(tr, &m);
		if (put_user(m.result, &((struct kmview_mem __user *)uarg)->result))
			return -EFAULT;
		return m.result < 0 ? m.result : 0;
	}
	case KMVIEW_IOC_MULTI:
		return kmv_multi(tr, uarg);
	case KMVIEW_IOC_CONFIG: {
		struct kmview_config c;
		int i;

		if (copy_from_user(&c, uarg, sizeof(c)))
			return -EFAULT;
		if (c.scratch_size && (c.scratch_size % PAGE_SIZE || c.scratch_size > (64u << 20)))
			return -EINVAL;
		for (i = 0; i < KMVIEW_NR_BITMAP; i++)
			assign_bit(i, tr->bitmap, c.bitmap[i / 64] & (1ULL << (i % 64)));
		if (c.scratch_size)
			tr->scratch_size = c.scratch_size;
		WRITE_ONCE(tr->flags, c.flags);
		return 0;
	}
	case KMVIEW_IOC_PREFIXES: {
		struct kmview_prefixes p;

		if (copy_from_user(&p, uarg, sizeof(p)))
			return -EFAULT;
		return kmv_set_prefixes(tr, &p);
	}
	case KMVIEW_IOC_FD_PREFILTER:
	case KMVIEW_IOC_MARKED_BITMAP: {
		struct kmview_bitmap b;

		if (copy_from_user(&b, uarg, sizeof(b)))
			return -EFAULT;
		kmv_set_bitmap(cmd == KMVIEW_IOC_FD_PREFILTER ? tr->fd_bitmap : tr->marked_bitmap,
			       b.bitmap);
		return 0;
	}
	case KMVIEW_IOC_MARK:
		return kmv_mark(tr, (pid_t)arg);
	case KMVIEW_IOC_INFO: {
		struct kmview_info info = {
			.abi_version = KMVIEW_ABI_VERSION,
			.tracers = atomic_read(&kmv_ntracers),
			.tasks = atomic_read(&kmv_ntasks),
		};
		int cpu;

		for_each_possible_cpu(cpu)
			info.filtered += per_cpu(kmv_filtered, cpu);

		return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
	}
	}
	return -ENOTTY;
}

static ssize_t kmv_read(struct file *file, char __user *buf, size_t len, loff_t *pos)
{
	struct kmv_tracer *tr = file->private_data;
	size_t done = 0;
	int err;

	if (len < sizeof(struct kmview_event))
		return -EINVAL;
	for (;;) {
		spin_lock_irq(&tr->evlock);
		while (done + sizeof(struct kmview_event) <= len && !list_empty(&tr->events)) {
			struct kmv_event_node *n =
				list_first_entry(&tr->events, struct kmv_event_node, node);
			struct kmview_event ev = n->ev;

			list_del(&n->node);
			spin_unlock_irq(&tr->evlock);
			kfree(n);
			if (copy_to_user(buf + done, &ev, sizeof(ev)))
				return done ? done : -EFAULT;
			done += sizeof(ev);
			spin_lock_irq(&tr->evlock);
		}
		spin_unlock_irq(&tr->evlock);
		if (done)
			return done;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		err = wait_event_interruptible(tr->readq, !list_empty_careful(&tr->events));
		if (err)
			return err;
	}
}

static __poll_t kmv_poll(struct file *file, poll_table *wait)
{
	struct kmv_tracer *tr = file->private_data;

	poll_wait(file, &tr->readq, wait);
	return list_empty_careful(&tr->events) ? 0 : EPOLLIN | EPOLLRDNORM;
}

static int kmv_open(struct inode *inode, struct file *file)
{
	struct kmv_tracer *tr = kzalloc(sizeof(*tr), GFP_KERNEL);

	if (!tr)
		return -ENOMEM;
	kref_init(&tr->ref);
	spin_lock_init(&tr->evlock);
	INIT_LIST_HEAD(&tr->events);
	INIT_LIST_HEAD(&tr->atts);
	init_waitqueue_head(&tr->readq);
	mutex_init(&tr->prefix_lock);
	tr->scratch_size = KMV_DEFAULT_SCRATCH;
	file->private_data = tr;
	atomic_inc(&kmv_ntracers);
	kmv_sys_enter_get();
	return 0;
}

/* The tracer is gone: its tracees are killed (they would run unvirtualized otherwise). */
static int kmv_release(struct inode *inode, struct file *file)
{
	struct kmv_tracer *tr = file->private_data;
	struct kmv_event_node *n, *ntmp;
	struct kmv_att *att;

	for (;;) {
		struct task_struct *task = NULL;
		struct kmv_task *kt = NULL;
		bool last = false;

		spin_lock(&kmv_lock);
		WRITE_ONCE(tr->closed, true);
		att = list_first_entry_or_null(&tr->atts, struct kmv_att, tr_node);
		if (att) {
			kt = att->kt;
			refcount_inc(&kt->ref);
			task = kt->task;
			get_task_struct(task);
			last = kmv_unlink(att);
		}
		spin_unlock(&kmv_lock);
		if (!att)
			break;
		send_sig(SIGKILL, task, 1);
		put_task_struct(task);
		wake_up(&kt->wq);
		if (last)
			kmv_task_put(kt); /* the hash table's */
		kmv_task_put(kt);
		kmv_att_put(att);
	}
	spin_lock_irq(&tr->evlock);
	list_for_each_entry_safe(n, ntmp, &tr->events, node) {
		list_del(&n->node);
		kfree(n);
	}
	spin_unlock_irq(&tr->evlock);
	atomic_dec(&kmv_ntracers);
	kmv_sys_enter_put();
	kmv_tracer_put(tr);
	return 0;
}

static const struct file_operations kmv_fops = {
	.owner = THIS_MODULE,
	.open = kmv_open,
	.release = kmv_release,
	.read = kmv_read,
	.poll = kmv_poll,
	.unlocked_ioctl = kmv_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice kmv_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kmview",
	.fops = &kmv_fops,
	.mode = 0666,
};

/* ---- module ------------------------------------------------------------------------------ */

static unsigned long kmv_lookup(const char *name)
{
	static unsigned long (*lookup)(const char *);

	if (!lookup) {
		struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };

		if (register_kprobe(&kp) < 0)
			return 0;
		lookup = (void *)kp.addr;
		unregister_kprobe(&kp);
	}
	return lookup ? lookup(name) : 0;
}


static int __init kmv_init(void)
{
	int err, i;

	real_x64_sys_call = (x64_sys_call_t)kmv_lookup("x64_sys_call");
	real_ptrace_may_access = (ptrace_may_access_t)kmv_lookup("ptrace_may_access");
	real_d_lookup_rcu = (d_lookup_rcu_t)kmv_lookup("__d_lookup_rcu"); /* optional */
	if (!real_x64_sys_call || !real_ptrace_may_access) {
		pr_err("kmview: x64_sys_call or ptrace_may_access not found (needs 6.1.85+)\n");
		return -ENOENT;
	}
	for_each_kernel_tracepoint(kmv_find_tp, NULL);
	for (i = 0; i < ARRAY_SIZE(kmv_tps); i++) {
		if (!kmv_tps[i].tp) {
			pr_err("kmview: tracepoint %s not found\n", kmv_tps[i].name);
			return -ENOENT;
		}
	}
	kmv_wq = alloc_workqueue("kmview", WQ_UNBOUND, 0);
	if (!kmv_wq)
		return -ENOMEM;
	err = ftrace_set_filter_ip(&kmv_ops, (unsigned long)real_x64_sys_call, 0, 0);
	if (err) {
		pr_err("kmview: cannot hook x64_sys_call: %d\n", err);
		destroy_workqueue(kmv_wq);
		return err;
	}
	for (i = 0; i < ARRAY_SIZE(kmv_tps); i++) {
		err = tracepoint_probe_register(kmv_tps[i].tp, kmv_tps[i].probe, NULL);
		if (err)
			goto undo_tp;
	}
	err = register_ftrace_function(&kmv_ops);
	if (err)
		goto undo_tp;
	err = misc_register(&kmv_dev);
	if (err)
		goto undo_ftrace;
	pr_info("kmview: ready (ABI %d)\n", KMVIEW_ABI_VERSION);
	return 0;

undo_ftrace:
	unregister_ftrace_function(&kmv_ops);
undo_tp:
	while (--i >= 0)
		tracepoint_probe_unregister(kmv_tps[i].tp, kmv_tps[i].probe, NULL);
	tracepoint_synchronize_unregister();
	ftrace_free_filter(&kmv_ops);
	destroy_workqueue(kmv_wq);
	return err;
}

/* Only reachable with no tracer open and no task attached (both pin the module). */
static void __exit kmv_exit(void)
{
	int i;

	misc_deregister(&kmv_dev);
	unregister_ftrace_function(&kmv_ops);
	for (i = 0; i < ARRAY_SIZE(kmv_tps); i++)
		tracepoint_probe_unregister(kmv_tps[i].tp, kmv_tps[i].probe, NULL);
	tracepoint_synchronize_unregister();
	ftrace_free_filter(&kmv_ops);
	destroy_workqueue(kmv_wq); /* waits for an expiry that put the last task */
	synchronize_rcu();
	rcu_barrier();
}

module_init(kmv_init);
module_exit(kmv_exit);
