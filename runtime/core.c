// SPDX-License-Identifier: MIT
/*
 * core.c - patches, objects and funcs (the kernel's kernel/livepatch/core.c):
 * initialization and symbol resolution, enable and disable, atomic replace
 * with nop funcs, callbacks, and objects that come and go with dlopen and
 * dlclose (klp_module_coming/going).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"
#include "uklp_api.h"

pthread_mutex_t klp_mutex = PTHREAD_MUTEX_INITIALIZER;
struct klp_patch *klp_patches;

/* Patches whose .so may be closed once klp_mutex is dropped. */
static struct klp_patch *reap_list[64];
static size_t reap_n;
/* Handles of patches reaped early (reap_take()), closed by klp_reap(). */
static void *close_list[64];
static size_t close_n;

static const char *pname(struct klp_patch *p)
{
	return KLP_PATCH_P(p)->name;
}

/* ---- callbacks (the kernel's core.h helpers) ---- */

int klp_pre_patch_callback(struct klp_object *obj)
{
	int ret = 0;

	if (obj->callbacks.pre_patch)
		ret = (*obj->callbacks.pre_patch)(obj);
	obj->callbacks.post_unpatch_enabled = !ret;
	return ret;
}

void klp_post_patch_callback(struct klp_object *obj)
{
	if (obj->callbacks.post_patch)
		(*obj->callbacks.post_patch)(obj);
}

void klp_pre_unpatch_callback(struct klp_object *obj)
{
	if (obj->callbacks.pre_unpatch)
		(*obj->callbacks.pre_unpatch)(obj);
}

void klp_post_unpatch_callback(struct klp_object *obj)
{
	if (obj->callbacks.post_unpatch_enabled && obj->callbacks.post_unpatch)
		(*obj->callbacks.post_unpatch)(obj);
	obj->callbacks.post_unpatch_enabled = false;
}

UKLP_API const char *klp_object_state_name(const struct klp_object *obj)
{
	if (!obj->priv)
		return "unloaded";
	switch (KLP_OBJ(obj)->state) {
	case KLP_OBJ_LOADED:
		return "loaded";
	case KLP_OBJ_COMING:
		return "coming";
	case KLP_OBJ_GOING:
		return "going";
	case KLP_OBJ_UNLOADED:
		break;
	}
	return "unloaded";
}

UKLP_API const char *klp_patch_name(const struct klp_patch *patch)
{
	return patch->priv ? KLP_PATCH_P(patch)->name : NULL;
}

/* ---- allocation of the runtime's view of a patch ---- */

static int add_func(struct klp_object *obj, struct klp_func *func,
		    struct klp_patch *patch)
{
	struct klp_object_priv *op = KLP_OBJ(obj);
	struct klp_func **nf;
	struct klp_func_priv *fp;

	fp = calloc(1, sizeof(*fp));
	nf = realloc(op->funcs, (op->nfuncs + 1) * sizeof(*nf));
	if (!fp || !nf) {
		free(fp);
		if (nf)
			op->funcs = nf;
		return -ENOMEM;
	}
	op->funcs = nf;
	fp->func = func;
	fp->obj = obj;
	fp->patch = patch;
	func->priv = fp;
	func->patched = false;
	func->transition = false;
	op->funcs[op->nfuncs++] = func;
	return 0;
}

static int add_object(struct klp_patch *patch, struct klp_object *obj)
{
	struct klp_patch_priv *pp = KLP_PATCH_P(patch);
	struct klp_object **no;
	struct klp_object_priv *op;

	op = calloc(1, sizeof(*op));
	no = realloc(pp->objs, (pp->nobjs + 1) * sizeof(*no));
	if (!op || !no) {
		free(op);
		if (no)
			pp->objs = no;
		return -ENOMEM;
	}
	pp->objs = no;
	op->patch = patch;
	obj->priv = op;
	obj->patched = false;
	obj->mod = 0;
	pp->objs[pp->nobjs++] = obj;
	return 0;
}

static void free_patch_priv(struct klp_patch *patch)
{
	struct klp_patch_priv *pp = KLP_PATCH_P(patch);
	struct klp_object *obj;
	struct klp_func *func;

	if (!pp)
		return;
	for (size_t i = 0; i < pp->nobjs; i++) {
		obj = pp->objs[i];
		if (!obj->priv)
			continue;
		for (size_t k = 0; k < KLP_OBJ(obj)->nfuncs; k++) {
			func = KLP_OBJ(obj)->funcs[k];
			free(func->priv);
			func->priv = NULL;
			if (func->nop)
				free(func);
		}
		free(KLP_OBJ(obj)->funcs);
		free(obj->priv);
		obj->priv = NULL;
		if (obj->dynamic) {
			free((char *)obj->name);
			free(obj);
		}
	}
	free(pp->objs);
	free(pp->name);
	free(pp->path);
	free(pp);
	patch->priv = NULL;
}

/* ---- symbols ---- */

static int find_symbol(struct klp_object *obj, const char *name,
		       unsigned long sympos, uintptr_t *addr,
		       unsigned long *size)
{
	struct uklp_obj *u = KLP_OBJ(obj)->uobj;
	struct elfsym_file *f = objects_elf(u);
	struct elfsym_sym s;
	size_t count = 0;
	int ret;

	if (!f) {
		pr_err("cannot read the symbols of '%s': %s\n", u->path,
		       strerror(-u->elf_err));
		return u->elf_err ? u->elf_err : -ENOENT;
	}
	ret = elfsym_lookup(f, name, sympos, &s, &count);
	if (ret == -ENOENT) {
		pr_err("symbol '%s' not found in symbol table\n", name);
		return -EINVAL;
	}
	if (ret == -EINVAL) {
		pr_err(
		    "unresolvable ambiguity for symbol '%s' in object '%s'\n",
		    name, klp_obj_name(obj));
		return -EINVAL;
	}
	if (ret == -ERANGE) {
		pr_err("symbol position %lu for symbol '%s' in object '%s' not "
		       "found\n",
		       sympos, name, klp_obj_name(obj));
		return -EINVAL;
	}
	if (ret)
		return ret;
	*addr = (uintptr_t)s.value + (f->is_pie_or_dso ? u->base : 0);
	*size = s.size;
	return 0;
}

/* Size of a patch's new function, from the patch .so's symbols. */
static int new_func_size(struct klp_func *func)
{
	uintptr_t a = (uintptr_t)func->new_func;
	struct uklp_obj *u = objects_find_addr(a);
	struct elfsym_file *f;
	struct elfsym_sym s;

	if (!u) {
		objects_scan(NULL, NULL);
		u = objects_find_addr(a);
	}
	f = u ? objects_elf(u) : NULL;
	if (!f ||
	    elfsym_find_addr(f, a - (f->is_pie_or_dso ? u->base : 0), &s)) {
		pr_err("kallsyms size lookup failed for '%s' replacement\n",
		       func->old_name);
		return -ENOENT;
	}
	func->new_size = s.size;
	return 0;
}

static void klp_free_object_loaded(struct klp_object *obj)
{
	struct klp_func *func;

	KLP_OBJ(obj)->uobj = NULL;
	KLP_OBJ(obj)->state = KLP_OBJ_UNLOADED;
	obj->mod = 0;
	klp_for_each_func (obj, func, k) {
		func->old_func = NULL;
		func->old_size = 0;
	}
}

static int klp_init_object_loaded(struct klp_patch *patch,
				  struct klp_object *obj, struct uklp_obj *u)
{
	struct elfsym_file *f;
	struct klp_func *func;
	struct klp_sym *sym;
	int ret;

	(void)patch;
	KLP_OBJ(obj)->uobj = u;
	obj->mod = u->base + 1;
	f = objects_elf(u);
	if (f && obj->build_id && *obj->build_id &&
	    strcasecmp(obj->build_id, f->build_id)) {
		pr_err(
		    "object '%s' has build-id %s, the patch was made for %s\n",
		    klp_obj_name(obj), *f->build_id ? f->build_id : "(none)",
		    obj->build_id);
		ret = -EINVAL;
		goto err;
	}
	for (sym = obj->syms; sym && sym->name; sym++) {
		uintptr_t a;
		unsigned long sz;

		ret = find_symbol(obj, sym->name, sym->sympos, &a, &sz);
		if (ret)
			goto err;
		*(void **)sym->addr = (void *)a;
	}
	klp_for_each_func (obj, func, k) {
		uintptr_t a;
		unsigned long sz;
		struct hook_loc loc;

		ret =
		    find_symbol(obj, func->old_name, func->old_sympos, &a, &sz);
		if (ret)
			goto err;
		func->old_func = (void *)a;
		func->old_size = sz;
		if (hook_location(a, &loc)) {
			pr_err("function '%s' cannot be patched: %s\n",
			       func->old_name, loc.why);
			ret = -EOPNOTSUPP;
			goto err;
		}
		if (func->nop) {
			func->new_size = func->old_size;
		} else {
			ret = new_func_size(func);
			if (ret)
				goto err;
		}
	}
	return 0;
err:
	klp_free_object_loaded(obj);
	return ret;
}

/* ---- atomic replace: nop funcs ---- */

static struct klp_object *find_object(struct klp_patch *patch,
				      struct klp_object *old)
{
	struct klp_object *obj;

	klp_for_each_object (patch, obj, i) {
		if (!obj->name && !old->name)
			return obj;
		if (obj->name && old->name && !strcmp(obj->name, old->name))
			return obj;
	}
	return NULL;
}

static bool same_func(struct klp_func *a, struct klp_func *b)
{
	return !strcmp(a->old_name, b->old_name) &&
	       (a->old_sympos == b->old_sympos ||
		(a->old_sympos == 0 && b->old_sympos == 1) ||
		(a->old_sympos == 1 && b->old_sympos == 0));
}

static int klp_add_nops(struct klp_patch *patch)
{
	for (struct klp_patch *old = klp_patches; old;
	     old = KLP_PATCH_P(old)->next) {
		struct klp_object *old_obj;

		klp_for_each_object (old, old_obj, i) {
			struct klp_object *obj = find_object(patch, old_obj);
			struct klp_func *old_func;
			int ret;

			if (!obj) {
				obj = calloc(1, sizeof(*obj));
				if (!obj)
					return -ENOMEM;
				obj->name = old_obj->name
						? strdup(old_obj->name)
						: NULL;
				obj->dynamic = true;
				ret = add_object(patch, obj);
				if (ret) {
					free((char *)obj->name);
					free(obj);
					return ret;
				}
			}
			klp_for_each_func (old_obj, old_func, k) {
				struct klp_func *func, *nop;
				bool found = false;

				klp_for_each_func (obj, func, m)
					if (same_func(func, old_func))
						found = true;
				if (found)
					continue;
				nop = calloc(1, sizeof(*nop));
				if (!nop)
					return -ENOMEM;
				nop->old_name = old_func->old_name;
				nop->old_sympos = old_func->old_sympos;
				nop->nop = true;
				ret = add_func(obj, nop, patch);
				if (ret) {
					free(nop);
					return ret;
				}
			}
		}
	}
	return 0;
}

/* Free the nop funcs once the replaced patches are gone (completion). */
void klp_discard_nops(struct klp_patch *patch)
{
	struct klp_patch_priv *pp = KLP_PATCH_P(patch);

	klp_unpatch_objects_dynamic(patch);
	for (size_t i = 0; i < pp->nobjs;) {
		struct klp_object *obj = pp->objs[i];
		struct klp_object_priv *op = KLP_OBJ(obj);
		size_t w = 0;

		for (size_t k = 0; k < op->nfuncs; k++) {
			struct klp_func *f = op->funcs[k];

			if (f->nop) {
				free(f->priv);
				free(f);
			} else {
				op->funcs[w++] = f;
			}
		}
		op->nfuncs = w;
		if (obj->dynamic) {
			free(op->funcs);
			free(op);
			free((char *)obj->name);
			free(obj);
			pp->objs[i] = pp->objs[--pp->nobjs];
			continue;
		}
		i++;
	}
}

void klp_unpatch_replaced_patches(struct klp_patch *new_patch)
{
	for (struct klp_patch *old = klp_patches; old;
	     old = KLP_PATCH_P(old)->next) {
		if (old == new_patch)
			continue;
		old->enabled = false;
		klp_unpatch_objects(old);
	}
}

/* ---- the patch list ---- */

static void list_del_patch(struct klp_patch *patch)
{
	for (struct klp_patch **pp = &klp_patches; *pp;
	     pp = &KLP_PATCH_P(*pp)->next) {
		if (*pp == patch) {
			*pp = KLP_PATCH_P(patch)->next;
			return;
		}
	}
}

static void reap_queue(struct klp_patch *patch)
{
	list_del_patch(patch);
	if (reap_n < sizeof(reap_list) / sizeof(reap_list[0]))
		reap_list[reap_n++] = patch;
}

/* The end of a transition: free what is finished (klp_mutex held). */
void klp_patch_done(struct klp_patch *patch)
{
	if (!patch->enabled) {
		reap_queue(patch);
	} else if (patch->replace) {
		for (struct klp_patch *p = klp_patches, *n; p; p = n) {
			n = KLP_PATCH_P(p)->next;
			if (p != patch)
				reap_queue(p);
		}
	}
}

/**
 * klp_reap() - close the .so of patches that finished (klp_mutex NOT held)
 *
 * dlclose() runs the dynamic loader, which calls back into the runtime
 * (module going), so it is never called with klp_mutex held.
 */
void klp_reap(void)
{
	struct klp_patch *todo[64];
	void *dlh[128];
	size_t n, m;

	pthread_mutex_lock(&klp_mutex);
	n = reap_n;
	for (size_t i = 0; i < n; i++) {
		todo[i] = reap_list[i];
		dlh[i] = todo[i]->forced ? NULL : KLP_PATCH_P(todo[i])->dlh;
		free_patch_priv(todo[i]);
	}
	reap_n = 0;
	m = n;
	for (size_t i = 0; i < close_n; i++)
		dlh[m++] = close_list[i];
	close_n = 0;
	pthread_mutex_unlock(&klp_mutex);
	for (size_t i = 0; i < m; i++)
		if (dlh[i])
			dlclose(dlh[i]);
}

/*
 * A patch struct about to be enabled again while its previous run still
 * waits in reap_list (klp_mutex held): the same .so loaded again before
 * klp_reap() ran gets the same, still open, handle and so the same struct.
 * Reap that entry now, so that a later klp_reap() does not free the new
 * run's state; its handle reference is closed by the next klp_reap().
 */
static void reap_take(struct klp_patch *patch)
{
	for (size_t i = 0; i < reap_n; i++) {
		if (reap_list[i] != patch)
			continue;
		reap_list[i] = reap_list[--reap_n];
		if (!patch->forced && KLP_PATCH_P(patch) &&
		    close_n < sizeof(close_list) / sizeof(close_list[0]))
			close_list[close_n++] = KLP_PATCH_P(patch)->dlh;
		free_patch_priv(patch);
		return;
	}
}

struct klp_patch *klp_find_patch(const char *name)
{
	for (struct klp_patch *p = klp_patches; p; p = KLP_PATCH_P(p)->next)
		if (!strcmp(pname(p), name))
			return p;
	return NULL;
}

/* ---- init, enable, disable ---- */

static int klp_init_patch(struct klp_patch *patch, const char *name,
			  const char *path, void *dlh, bool add_to_list)
{
	struct klp_patch_priv *pp;
	struct klp_object *obj;
	struct klp_func *func;
	int ret;

	if (!patch->objs)
		return -EINVAL;
	for (obj = patch->objs; obj->funcs; obj++) {
		for (func = obj->funcs; func->old_name; func++)
			if (!func->new_func)
				return -EINVAL;
	}
	pp = calloc(1, sizeof(*pp));
	if (!pp)
		return -ENOMEM;
	patch->priv = pp;
	pp->name = strdup(name);
	pp->path = strdup(path ? path : "");
	pp->dlh = dlh;
	patch->name = pp->name;
	patch->enabled = false;
	patch->forced = false;
	if (!pp->name || !pp->path) {
		ret = -ENOMEM;
		goto err;
	}
	for (obj = patch->objs; obj->funcs; obj++) {
		obj->dynamic = false;
		ret = add_object(patch, obj);
		if (ret)
			goto err;
		for (func = obj->funcs; func->old_name; func++) {
			func->nop = false;
			ret = add_func(obj, func, patch);
			if (ret)
				goto err;
		}
	}
	if (patch->replace) {
		ret = klp_add_nops(patch);
		if (ret)
			goto err;
	}
	objects_scan(NULL, NULL);
	klp_for_each_object (patch, obj, i) {
		struct uklp_obj *u = objects_find(obj->name);

		KLP_OBJ(obj)->state = KLP_OBJ_UNLOADED;
		if (!u)
			continue;
		ret = klp_init_object_loaded(patch, obj, u);
		if (ret)
			goto err;
		KLP_OBJ(obj)->state = KLP_OBJ_LOADED;
	}
	if (add_to_list) {
		struct klp_patch **tail = &klp_patches;

		while (*tail)
			tail = &KLP_PATCH_P(*tail)->next;
		*tail = patch;
	}
	return 0;
err:
	free_patch_priv(patch);
	return ret;
}

static int __klp_enable_patch(struct klp_patch *patch)
{
	struct klp_object *obj;
	int ret;

	if (klp_transition_patch)
		return -EBUSY;
	if (patch->enabled)
		return -EINVAL;
	pr_notice("enabling patch '%s'\n", pname(patch));
	klp_init_transition(patch, KLP_PATCHED);
	klp_for_each_object (patch, obj, i) {
		if (!klp_is_object_loaded(obj))
			continue;
		ret = klp_pre_patch_callback(obj);
		if (ret) {
			pr_warn("pre-patch callback failed for object '%s'\n",
				klp_obj_name(obj));
			goto err;
		}
		ret = klp_patch_object(obj);
		if (ret) {
			pr_warn("failed to patch object '%s'\n",
				klp_obj_name(obj));
			goto err;
		}
	}
	klp_start_transition();
	patch->enabled = true;
	klp_try_complete_transition();
	return 0;
err:
	pr_warn("failed to enable patch '%s'\n", pname(patch));
	klp_cancel_transition();
	return ret;
}

/**
 * klp_enable_patch() - check, initialize and enable a patch (klp_mutex held)
 * @patch:	the patch from the .so's descriptor
 * @name:	its name
 * @path:	its file
 * @dlh:	its dlopen handle
 * @check_only:	resolve and check everything, then forget it
 *
 * Return: 0 or -errno; on failure the patch is not known to the runtime
 * any more and nothing of the process was changed.
 */
int klp_enable_patch(struct klp_patch *patch, const char *name,
		     const char *path, void *dlh, bool check_only)
{
	int ret;

	if (!patch || !patch->objs)
		return -EINVAL;
	if (!klp_is_patch_compatible(patch)) {
		pr_err("Livepatch patch (%s) is not compatible with the "
		       "already installed livepatches.\n",
		       name);
		return -EINVAL;
	}
	reap_take(patch);
	ret = klp_init_patch(patch, name, path, dlh, !check_only);
	if (ret)
		return ret;
	if (check_only) {
		free_patch_priv(patch);
		return 0;
	}
	ret = __klp_enable_patch(patch);
	if (ret) {
		/* A cancel already queued it; otherwise drop it here. */
		for (size_t i = 0; i < reap_n; i++) {
			if (reap_list[i] == patch) {
				reap_list[i] = reap_list[--reap_n];
				break;
			}
		}
		list_del_patch(patch);
		free_patch_priv(patch);
	}
	return ret;
}

/**
 * klp_disable_patch() - start unpatching (klp_mutex held)
 * @patch:	an enabled patch
 *
 * Return: 0 or -errno.
 */
int klp_disable_patch(struct klp_patch *patch)
{
	struct klp_object *obj;

	if (!patch->enabled)
		return -EINVAL;
	if (klp_transition_patch)
		return -EBUSY;
	klp_init_transition(patch, KLP_UNPATCHED);
	klp_for_each_object (patch, obj, i)
		if (obj->patched)
			klp_pre_unpatch_callback(obj);
	/* The funcs are in transition now: dispatch by thread state. */
	klp_sync_patch_ops(patch);
	klp_start_transition();
	patch->enabled = false;
	klp_try_complete_transition();
	return 0;
}

/* ---- objects that come and go (dlopen / dlclose) ---- */

static void klp_cleanup_module_patches_limited(struct uklp_obj *u,
					       struct klp_patch *limit)
{
	for (struct klp_patch *patch = klp_patches; patch && patch != limit;
	     patch = KLP_PATCH_P(patch)->next) {
		struct klp_object *obj;

		klp_for_each_object (patch, obj, i) {
			if (KLP_OBJ(obj)->uobj != u)
				continue;
			KLP_OBJ(obj)->state = KLP_OBJ_GOING;
			if (patch != klp_transition_patch)
				klp_pre_unpatch_callback(obj);
			pr_notice(
			    "reverting patch '%s' on unloading module '%s'\n",
			    pname(patch), u->name);
			klp_unpatch_object(obj);
			klp_post_unpatch_callback(obj);
			klp_free_object_loaded(obj);
			break;
		}
	}
}

/**
 * klp_module_coming() - a library was mapped; patch it before it runs
 * @u:	the new object (mapped, not yet relocated nor initialized)
 *
 * Return: 0, or -errno when a patch refuses the library (its load must
 * then fail).
 */
int klp_module_coming(struct uklp_obj *u)
{
	struct klp_patch *patch;
	struct klp_object *obj = NULL;
	int ret = 0;

	for (patch = klp_patches; patch; patch = KLP_PATCH_P(patch)->next) {
		struct klp_object *o;

		obj = NULL;
		klp_for_each_object (patch, o, i) {
			if (o->name && !klp_is_object_loaded(o) &&
			    objects_matches(u, o->name)) {
				obj = o;
				break;
			}
		}
		if (!obj)
			continue;
		ret = klp_init_object_loaded(patch, obj, u);
		if (ret) {
			pr_warn("failed to initialize patch '%s' for module "
				"'%s' (%d)\n",
				pname(patch), u->name, ret);
			goto err;
		}
		KLP_OBJ(obj)->state = KLP_OBJ_COMING;
		pr_notice("applying patch '%s' to loading module '%s'\n",
			  pname(patch), u->name);
		ret = klp_pre_patch_callback(obj);
		if (ret) {
			pr_warn("pre-patch callback failed for object '%s'\n",
				obj->name);
			goto err;
		}
		ret = klp_patch_object(obj);
		if (ret) {
			pr_warn(
			    "failed to apply patch '%s' to module '%s' (%d)\n",
			    pname(patch), u->name, ret);
			klp_post_unpatch_callback(obj);
			goto err;
		}
		if (patch != klp_transition_patch)
			klp_post_patch_callback(obj);
		KLP_OBJ(obj)->state = KLP_OBJ_LOADED;
	}
	return 0;
err:
	pr_warn(
	    "patch '%s' failed for module '%s', refusing to load module '%s'\n",
	    pname(patch), u->name, u->name);
	if (obj)
		klp_free_object_loaded(obj);
	klp_cleanup_module_patches_limited(u, patch);
	return ret;
}

/**
 * klp_module_going() - a library was unloaded: forget its patching
 * @u:	the object that went away
 */
void klp_module_going(struct uklp_obj *u)
{
	klp_cleanup_module_patches_limited(u, NULL);
}
