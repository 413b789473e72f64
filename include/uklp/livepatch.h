/* SPDX-License-Identifier: MIT */
/*
 * <uklp/livepatch.h> - the patch author's API of uklp.
 *
 * A patch is a shared object built against this header. It describes, with
 * the Linux kernel's livepatch structures and names, which functions of which
 * loaded objects it replaces:
 *
 *	static int patched_show(struct req *r) { ... }
 *	static struct klp_func funcs[] = {
 *		{ .old_name = "cmdline_show", .new_func = patched_show }, { }
 *	};
 *	static struct klp_object objs[] = {
 *		{ .name = NULL, .funcs = funcs }, { }	// NULL: main executable
 *	};
 *	static struct klp_patch patch = { .objs = objs };
 *	KLP_PATCH(patch);
 *
 * Build it with
 *	cc -shared -fPIC $(pkg-config --cflags --libs uklp) fix.c -o fix.so
 * and load it with UKLP_LOAD=/abs/fix.so (at program start), the control API
 * in <uklp/control.h>, or `uklp load PID fix.so`. Loading enables it. The
 * patch name is the file's base name without ".so" (the kernel's module name).
 *
 * Everything here keeps the kernel's semantics (Documentation/livepatch/)
 * unless a comment says otherwise. Fields marked "private" belong to the
 * runtime: leave them zero.
 */
#ifndef UKLP_LIVEPATCH_H
#define UKLP_LIVEPATCH_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The descriptor layout version; bumped on any incompatible change. */
#define UKLP_ABI_VERSION 1

/* Per-thread patch states (the kernel's KLP_UNDEFINED/UNPATCHED/PATCHED). */
#define KLP_UNDEFINED -1
#define KLP_UNPATCHED 0
#define KLP_PATCHED   1

struct klp_object;
struct klp_patch;

/**
 * struct klp_func - one function to replace
 * @old_name:	name of the function to patch, as in the object's symbol table
 * @new_func:	the replacement; same prototype as the original
 * @old_sympos: which symbol when the object has several of that name (local
 *		functions of different files): 0 means the name must be unique,
 *		N means the Nth one in the object's symbol table, as in the
 *kernel
 *
 * private: @old_func, @old_size, @new_size, @nop, @patched, @transition,
 * @priv (runtime bookkeeping). A klp_func with @nop set and @new_func NULL
 * is created by the runtime for atomic replace and means "the original".
 */
struct klp_func {
	const char *old_name;
	void *new_func;
	unsigned long old_sympos;

	/* private */
	void *old_func;
	unsigned long old_size;
	unsigned long new_size;
	bool nop;
	bool patched;
	bool transition;
	void *priv;
};

/**
 * struct klp_sym - a non-exported symbol of the object the patch uses
 * @name:	symbol name (function or variable, local or global)
 * @sympos:	as &klp_func.old_sympos
 * @addr:	where the runtime stores the symbol's run-time address before
 *		anything is patched (a pointer to a function pointer or to a
 *		pointer variable of the patch)
 *
 * This is uklp's form of the kernel's .klp.sym relocations: the patch calls
 * or reads static functions and variables of the patched object through
 * pointers the runtime fills in. A symbol that is missing or ambiguous
 * refuses the load before anything is patched. Use KLP_SYM() to declare one.
 */
struct klp_sym {
	const char *name;
	unsigned long sympos;
	void *addr;
};

/* KLP_SYM(name, sympos, &ptr) - an entry of klp_object.syms. */
#define KLP_SYM(sym_name, pos, ptr)                                            \
	{                                                                      \
		.name = (sym_name), .sympos = (pos), .addr = (void *)(ptr)     \
	}

/**
 * struct klp_callbacks - called around (un)patching of one object
 * @pre_patch:	before the object is patched; a non-zero return refuses
 *		the patching of this object (the patch load, or the loading of
 *		the library when it comes later)
 * @post_patch: after the patching transition of the object completed
 * @pre_unpatch: before the unpatching transition starts
 * @post_unpatch: after the object was unpatched
 * @post_unpatch_enabled: private
 *
 * The kernel's rules: callbacks run only for objects that are loaded; a
 * pre_patch failure cancels the load (no other callbacks run for that
 * object) and post_unpatch runs only where pre_patch succeeded.
 */
struct klp_callbacks {
	int (*pre_patch)(struct klp_object *obj);
	void (*post_patch)(struct klp_object *obj);
	void (*pre_unpatch)(struct klp_object *obj);
	void (*post_unpatch)(struct klp_object *obj);
	bool post_unpatch_enabled;
};

/**
 * struct klp_object - one loaded object (executable or shared library)
 * @name:	NULL for the main executable (the kernel's vmlinux); otherwise
 *		a file name ("libz.so.1.2.13") or a DT_SONAME ("libz.so.1")
 * @funcs:	functions to replace, ended by an entry with old_name NULL
 * @syms:	optional symbols the patch uses, ended by name NULL
 * @callbacks:	optional callbacks
 * @build_id:	optional GNU build-id as lowercase hex; when set, a loaded
 *		object with another build-id refuses the load
 *
 * private: @mod (the object's load base + 1 while loaded, 0 otherwise),
 * @patched, @dynamic, @priv.
 */
struct klp_object {
	const char *name;
	struct klp_func *funcs;
	struct klp_sym *syms;
	struct klp_callbacks callbacks;
	const char *build_id;

	/* private */
	unsigned long mod;
	bool patched;
	bool dynamic;
	void *priv;
};

/**
 * struct klp_state - a system state a patch installs or takes over
 * @id:		the state's identifier (unique among the patch's states)
 * @version:	its version; a patch may only replace one whose states it knows
 *		with at least the same version (the kernel's compatibility rule)
 * @data:	the patch author's data, carried over by the callbacks
 */
struct klp_state {
	unsigned long id;
	unsigned int version;
	void *data;
};

/**
 * struct klp_patch - a live patch
 * @objs:	objects to patch, ended by an entry with funcs NULL
 * @states:	optional system states, ended by an entry with id 0
 * @replace:	atomic replace: when enabled, every older patch is replaced;
 *		functions they patched that this patch does not are reverted
 *		through "nop" functions
 *
 * private: the rest.
 */
struct klp_patch {
	struct klp_object *objs;
	struct klp_state *states;
	bool replace;

	/* private */
	const char *name;
	bool enabled;
	bool forced;
	void *priv;
};

/**
 * struct uklp_patch_desc - what KLP_PATCH() exports
 * @magic:	UKLP_PATCH_MAGIC
 * @abi:	UKLP_ABI_VERSION the patch was built with
 * @patch:	the patch
 */
struct uklp_patch_desc {
	unsigned int magic;
	unsigned int abi;
	struct klp_patch *patch;
};

#define UKLP_PATCH_MAGIC  0x706c6b75u /* "uklp" */
#define UKLP_PATCH_SYMBOL "uklp_patch_desc"

/**
 * KLP_PATCH() - make this shared object a loadable live patch
 * @p: the struct klp_patch variable (not a pointer)
 */
#define KLP_PATCH(p)                                                           \
	__attribute__((visibility("default"), used))                           \
	const struct uklp_patch_desc uklp_patch_desc = {                       \
	    UKLP_PATCH_MAGIC, UKLP_ABI_VERSION, &(p)}

/* Shadow variables: the kernel's API without the gfp argument. */
typedef int (*klp_shadow_ctor_t)(void *obj, void *shadow_data, void *ctor_data);
typedef void (*klp_shadow_dtor_t)(void *obj, void *shadow_data);

/**
 * klp_shadow_get() - find the shadow variable <@obj, @id>
 * @obj:	the object it is attached to
 * @id:		its identifier
 *
 * Return: its data, or NULL when there is none.
 */
void *klp_shadow_get(void *obj, unsigned long id);

/**
 * klp_shadow_alloc() - attach a new shadow variable <@obj, @id>
 * @obj:	the object to attach it to
 * @id:		its identifier
 * @size:	size of its data
 * @ctor:	optional constructor, called with the new data (zeroed) and
 *		@ctor_data, under the shadow lock; a non-zero return cancels
 * @ctor_data:	passed to @ctor
 *
 * Return: the new data; NULL if <@obj, @id> exists already (a warning is
 * logged), if memory runs out, or if @ctor failed.
 */
void *klp_shadow_alloc(void *obj, unsigned long id, size_t size,
		       klp_shadow_ctor_t ctor, void *ctor_data);

/**
 * klp_shadow_get_or_alloc() - find <@obj, @id>, or attach it if missing
 * @obj:	the object
 * @id:		identifier
 * @size:	size of the data
 * @ctor:	constructor, only run when a new variable is made
 * @ctor_data:	passed to @ctor
 *
 * Return: the existing or new data, NULL on failure.
 */
void *klp_shadow_get_or_alloc(void *obj, unsigned long id, size_t size,
			      klp_shadow_ctor_t ctor, void *ctor_data);

/**
 * klp_shadow_free() - detach and free <@obj, @id>
 * @obj:	the object
 * @id:		identifier
 * @dtor:	optional destructor called before the data is freed
 */
void klp_shadow_free(void *obj, unsigned long id, klp_shadow_dtor_t dtor);

/**
 * klp_shadow_free_all() - detach and free every shadow variable with @id
 * @id:		identifier
 * @dtor:	optional destructor called for each before it is freed
 */
void klp_shadow_free_all(unsigned long id, klp_shadow_dtor_t dtor);

/**
 * klp_get_state() - a state of @patch
 * @patch:	the patch (usually the caller's own)
 * @id:		the state's id
 *
 * Return: the state, or NULL when @patch has no state @id.
 */
struct klp_state *klp_get_state(struct klp_patch *patch, unsigned long id);

/**
 * klp_get_prev_state() - the state @id of the patches installed before
 * @id:		the state's id
 *
 * Only meaningful in callbacks of the patch being enabled or replaced.
 *
 * Return: the newest already installed patch's state @id, or NULL.
 */
struct klp_state *klp_get_prev_state(unsigned long id);

/**
 * klp_update_patch_state() - a safe point of the calling thread
 *
 * The kernel switches a task at exit to user space; a user-space program
 * may call this from its own loop where it holds no patched function on its
 * stack. If a transition is in progress and the calling thread's stack (from
 * its caller up) holds no function being replaced, the thread switches to
 * the target state. Cheap when no transition is in progress.
 */
void klp_update_patch_state(void);

/**
 * klp_object_state_name() - where a loaded object is in its life
 * @obj:	an object of a patch known to the runtime
 *
 * For callbacks, as the kernel's module state: "loaded" (was loaded before
 * the patch: MODULE_STATE_LIVE), "coming" (being loaded now, its
 * constructors not yet run: MODULE_STATE_COMING), "going" (being unloaded:
 * MODULE_STATE_GOING), "unloaded" (not loaded).
 *
 * Return: one of those strings.
 */
const char *klp_object_state_name(const struct klp_object *obj);

/**
 * klp_patch_name() - name of a patch
 * @patch:	a patch known to the runtime
 *
 * Return: the patch's name (its file's base name without ".so").
 */
const char *klp_patch_name(const struct klp_patch *patch);

/* Log levels of the runtime's message ring (the kernel's printk levels). */
#define UKLP_LOG_ERR	 3
#define UKLP_LOG_WARNING 4
#define UKLP_LOG_NOTICE	 5
#define UKLP_LOG_INFO	 6
#define UKLP_LOG_DEBUG	 7

/**
 * uklp_printk() - add a line to the runtime's message ring (the kernel's
 * printk)
 * @level:	UKLP_LOG_*
 * @fmt:	printf format; a trailing newline is optional
 *
 * Patches use it (through pr_info-like macros of their own) so that their
 * messages appear in `uklp log PID` between the runtime's, in order.
 */
void uklp_printk(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif /* UKLP_LIVEPATCH_H */
