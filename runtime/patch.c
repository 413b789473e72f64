// SPDX-License-Identifier: MIT
/*
 * patch.c - klp_ops and the func_stack of each patched function (the
 * kernel's kernel/livepatch/patch.c).
 *
 * The kernel's klp_ftrace_handler() picks, at every call: the top func of
 * the stack; if that func is in transition and the calling task is
 * UNPATCHED, the next one down, or the original when there is none; a nop
 * func means the original. Here the rule is evaluated whenever a stack or
 * a transition flag changes (klp_sync_ops()) and handed to the hook layer
 * as two targets, one per thread state; the trampoline only reads the
 * calling thread's state word.
 */
#include <errno.h>
#include <stdlib.h>

#include "core.h"
#include "log.h"

static struct klp_ops *klp_ops_list;

struct klp_ops *klp_find_ops(uintptr_t old_addr)
{
	for (struct klp_ops *ops = klp_ops_list; ops; ops = ops->next)
		if (ops->old_addr == old_addr)
			return ops;
	return NULL;
}

static uintptr_t func_target(struct klp_func_priv *fp)
{
	if (!fp || fp->func->nop)
		return 0; /* the original code */
	return (uintptr_t)fp->func->new_func;
}

int klp_sync_ops(struct klp_ops *ops)
{
	struct klp_func_priv *top = ops->func_stack;
	uintptr_t tp, tu;
	int trans;

	if (!top)
		return 0;
	trans = top->func->transition;
	tp = func_target(top);
	tu = trans ? func_target(top->stack_next) : tp;
	return hook_set_dispatch(
	    &ops->fops, ops->old_addr, tp, tu, klp_transition_gen(), trans,
	    klp_target_state == KLP_UNPATCHED ? KLP_UNPATCHED : KLP_PATCHED);
}

int klp_sync_patch_ops(struct klp_patch *patch)
{
	struct klp_object *obj;
	struct klp_func *func;
	int ret = 0;

	klp_for_each_object (patch, obj, i) {
		klp_for_each_func (obj, func, k) {
			if (func->patched && KLP_FUNC(func)->ops) {
				int r = klp_sync_ops(KLP_FUNC(func)->ops);

				if (r && !ret)
					ret = r;
			}
		}
	}
	return ret;
}

static void klp_unpatch_func(struct klp_func *func)
{
	struct klp_func_priv *fp = KLP_FUNC(func);
	struct klp_ops *ops = fp->ops;

	if (!func->patched || !ops) {
		pr_err("BUG: unpatching '%s' which is not patched",
		       func->old_name);
		return;
	}
	if (ops->func_stack == fp && !fp->stack_next) {
		hook_unregister_ops(&ops->fops);
		for (struct klp_ops **pp = &klp_ops_list; *pp;
		     pp = &(*pp)->next) {
			if (*pp == ops) {
				*pp = ops->next;
				break;
			}
		}
		free(ops->fops.filter);
		free(ops);
	} else {
		for (struct klp_func_priv **pp = &ops->func_stack; *pp;
		     pp = &(*pp)->stack_next) {
			if (*pp == fp) {
				*pp = fp->stack_next;
				break;
			}
		}
		klp_sync_ops(ops);
	}
	fp->ops = NULL;
	fp->stack_next = NULL;
	func->patched = false;
}

static int klp_patch_func(struct klp_func *func)
{
	struct klp_func_priv *fp = KLP_FUNC(func);
	uintptr_t old = (uintptr_t)func->old_func;
	struct klp_ops *ops;
	int ret;

	if (!old || func->patched) {
		pr_err("BUG: patching '%s': old_func %p patched %d",
		       func->old_name, func->old_func, func->patched);
		return -EINVAL;
	}
	ops = klp_find_ops(old);
	if (!ops) {
		struct hook_loc loc;

		if (hook_location(old, &loc)) {
			pr_err("failed to find location for function '%s'\n",
			       func->old_name);
			pr_err("function '%s' cannot be patched: %s\n",
			       func->old_name, loc.why);
			return -EOPNOTSUPP;
		}
		ops = calloc(1, sizeof(*ops));
		if (!ops)
			return -ENOMEM;
		ops->old_addr = old;
		ops->fops.state = klp_thread_state;
		ops->fops.flags = HOOK_OPS_FL_IPMODIFY;
		ops->fops.private = ops;
		ret = hook_set_filter_ip(&ops->fops, old, 0);
		if (ret) {
			pr_err("failed to set ftrace filter for function '%s' "
			       "(%d)\n",
			       func->old_name, ret);
			goto err;
		}
		ret = hook_register_ops(&ops->fops);
		if (ret) {
			pr_err("failed to register ftrace handler for function "
			       "'%s' (%d)\n",
			       func->old_name, ret);
			goto err;
		}
		ops->next = klp_ops_list;
		klp_ops_list = ops;
	}
	fp->ops = ops;
	fp->stack_next = ops->func_stack;
	ops->func_stack = fp;
	func->patched = true;
	ret = klp_sync_ops(ops);
	if (ret) {
		klp_unpatch_func(func);
		return ret;
	}
	return 0;
err:
	free(ops->fops.filter);
	free(ops);
	return ret;
}

void klp_unpatch_object(struct klp_object *obj)
{
	struct klp_func *func;

	klp_for_each_func (obj, func, k)
		if (func->patched)
			klp_unpatch_func(func);
	obj->patched = false;
}

int klp_patch_object(struct klp_object *obj)
{
	struct klp_func *func;
	int ret;

	if (obj->patched)
		return -EINVAL;
	klp_for_each_func (obj, func, k) {
		ret = klp_patch_func(func);
		if (ret) {
			klp_unpatch_object(obj);
			return ret;
		}
	}
	obj->patched = true;
	return 0;
}

static void unpatch_objects(struct klp_patch *patch, bool nops_only)
{
	struct klp_object *obj;
	struct klp_func *func;

	klp_for_each_object (patch, obj, i) {
		if (!obj->patched)
			continue;
		klp_for_each_func (obj, func, k) {
			if (func->patched && (!nops_only || func->nop))
				klp_unpatch_func(func);
		}
		if (!nops_only || obj->dynamic)
			obj->patched = false;
	}
}

void klp_unpatch_objects(struct klp_patch *patch)
{
	unpatch_objects(patch, false);
}

void klp_unpatch_objects_dynamic(struct klp_patch *patch)
{
	unpatch_objects(patch, true);
}
