/* SPDX-License-Identifier: MIT */
/*
 * core - the kernel's livepatch core in a process: patches, objects,
 * funcs, klp_ops with their func_stack, transitions. Prefix: klp_.
 * Everything here runs under klp_mutex unless it says otherwise.
 */
#ifndef UKLP_CORE_H
#define UKLP_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <uklp/livepatch.h>

#include "hook.h"
#include "objects.h"

enum klp_obj_state {
	KLP_OBJ_UNLOADED,
	KLP_OBJ_LOADED,
	KLP_OBJ_COMING,
	KLP_OBJ_GOING
};

/* klp_func.priv */
struct klp_func_priv {
	struct klp_func *func;
	struct klp_object *obj;
	struct klp_patch *patch;
	struct klp_ops *ops;
	struct klp_func_priv *stack_next; /* the one below on the func_stack */
	bool on_stack;
};

/* klp_object.priv */
struct klp_object_priv {
	struct klp_patch *patch;
	struct uklp_obj *uobj; /* while loaded */
	enum klp_obj_state state;
	struct klp_func **funcs; /* the author's funcs, then nops */
	size_t nfuncs;
};

/* klp_patch.priv */
struct klp_patch_priv {
	char *name;
	char *path;
	void *dlh;
	struct klp_object **objs; /* the author's objects, then dynamic ones */
	size_t nobjs;
	struct klp_patch *next; /* klp_patches list, oldest first */
};

/* One per patched function (old address): the kernel's struct klp_ops. */
struct klp_ops {
	uintptr_t old_addr;
	struct klp_func_priv *func_stack; /* top first */
	struct hook_ops fops;
	struct klp_ops *next;
};

#define KLP_FUNC(f)    ((struct klp_func_priv *)(f)->priv)
#define KLP_OBJ(o)     ((struct klp_object_priv *)(o)->priv)
#define KLP_PATCH_P(p) ((struct klp_patch_priv *)(p)->priv)

#define klp_for_each_object(patch, obj, i)                                     \
	for (size_t i = 0; i < KLP_PATCH_P(patch)->nobjs &&                    \
			   ((obj) = KLP_PATCH_P(patch)->objs[i]);              \
	     i++)
#define klp_for_each_func(obj, func, k)                                        \
	for (size_t k = 0;                                                     \
	     k < KLP_OBJ(obj)->nfuncs && ((func) = KLP_OBJ(obj)->funcs[k]);    \
	     k++)

extern pthread_mutex_t klp_mutex;
extern struct klp_patch *klp_patches;
extern struct klp_patch *klp_transition_patch;
extern int klp_target_state;

static inline bool klp_is_object_loaded(struct klp_object *obj)
{
	return KLP_OBJ(obj)->uobj != NULL;
}

static inline const char *klp_obj_name(struct klp_object *obj)
{
	return obj->name ? obj->name : "vmlinux";
}

/* patch.c */
int klp_patch_object(struct klp_object *obj);
void klp_unpatch_object(struct klp_object *obj);
void klp_unpatch_objects(struct klp_patch *patch);
void klp_unpatch_objects_dynamic(struct klp_patch *patch);
struct klp_ops *klp_find_ops(uintptr_t old_addr);
int klp_sync_ops(struct klp_ops *ops);
int klp_sync_patch_ops(struct klp_patch *patch);

/* transition.c */
void klp_init_transition(struct klp_patch *patch, int state);
void klp_start_transition(void);
bool klp_try_complete_transition(void);
void klp_cancel_transition(void);
void klp_reverse_transition(void);
void klp_force_transition(void);
uint32_t klp_transition_gen(void);
int klp_thread_state(struct hook_ops *ops, unsigned long ip,
		     struct tramp_regs *regs);
void klp_transition_kick(void);
void klp_switch_self_at_start(void);

/* core.c */
void klp_free_patch(struct klp_patch *patch);
void klp_discard_replaced_patches(struct klp_patch *new_patch);
void klp_discard_nops(struct klp_patch *patch);
void klp_unpatch_replaced_patches(struct klp_patch *new_patch);
int klp_pre_patch_callback(struct klp_object *obj);
void klp_post_patch_callback(struct klp_object *obj);
void klp_pre_unpatch_callback(struct klp_object *obj);
void klp_post_unpatch_callback(struct klp_object *obj);
void klp_patch_done(struct klp_patch *patch);

/* state.c */
bool klp_is_patch_compatible(struct klp_patch *patch);

#endif
