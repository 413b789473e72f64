/* SPDX-License-Identifier: MIT */
/*
 * shadow.c - shadow variables, the kernel's kernel/livepatch/shadow.c.
 *
 * A shadow variable is a block of data attached to any object (a pointer,
 * used only as a key) under a numeric id, so that a patch can add fields to
 * existing structures. Variables live in one hash table keyed by <obj, id>;
 * as in the kernel, the bucket is chosen by @obj alone.
 *
 * Concurrency: the kernel's readers are lock-free under RCU; here every
 * function takes klp_shadow_lock, a mutex. As in the kernel, a constructor
 * and a destructor run with the lock held, and klp_shadow_get() works from
 * them (the kernel's RCU read side nests in its spinlock): a thread that
 * runs a callback already owns the lock, which klp_shadow_in_callback tells
 * klp_shadow_get(). The other functions would deadlock in the kernel when
 * called from a callback; here they log an error and do nothing.
 *
 * Messages are the kernel's: pr_err() ones carry its "livepatch: " prefix,
 * the duplicate warning is WARN()'s bare text.
 *
 * The data of a variable stays valid until it is freed; keeping it from
 * being freed while it is in use is the caller's business, as in the kernel.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <uklp/livepatch.h>

#include "uklp_api.h"

#define KLP_SHADOW_HASH_BITS 12
#define KLP_SHADOW_HASH_SIZE (1UL << KLP_SHADOW_HASH_BITS)

/**
 * struct klp_shadow - one shadow variable
 * @next:	next variable of the same hash bucket
 * @obj:	the object it is attached to
 * @id:		its identifier
 * @data:	its data, aligned for any type
 */
struct klp_shadow {
	struct klp_shadow *next;
	void *obj;
	unsigned long id;
	_Alignas(max_align_t) unsigned char data[];
};

static struct klp_shadow *klp_shadow_hash[KLP_SHADOW_HASH_SIZE];
static pthread_mutex_t klp_shadow_lock = PTHREAD_MUTEX_INITIALIZER;

/* True while this thread runs a ctor or dtor, holding klp_shadow_lock. */
static __thread bool klp_shadow_in_callback;

static struct klp_shadow **klp_shadow_bucket(const void *obj)
{
	uint64_t key = (uintptr_t)obj;

	/* The kernel's hash_64(): multiply by the 64-bit golden ratio. */
	key *= 0x61c8864680b583ebULL;
	return &klp_shadow_hash[key >> (64 - KLP_SHADOW_HASH_BITS)];
}

static bool klp_shadow_match(const struct klp_shadow *shadow, const void *obj,
			     unsigned long id)
{
	return shadow->obj == obj && shadow->id == id;
}

/* Find <@obj, @id>; klp_shadow_lock held. */
static struct klp_shadow *klp_shadow_lookup(const void *obj, unsigned long id)
{
	struct klp_shadow *shadow;

	for (shadow = *klp_shadow_bucket(obj); shadow; shadow = shadow->next) {
		if (klp_shadow_match(shadow, obj, id))
			return shadow;
	}
	return NULL;
}

/* Refuse a table change from a ctor or dtor (the kernel would deadlock). */
static bool klp_shadow_nested(const char *func)
{
	if (!klp_shadow_in_callback)
		return false;
	uklp_printk(UKLP_LOG_ERR,
		    "livepatch: %s() called from a shadow variable "
		    "constructor or destructor: ignored\n",
		    func);
	return true;
}

/* Unlinked @shadow: run @dtor on it, then free it; klp_shadow_lock held. */
static void klp_shadow_free_struct(struct klp_shadow *shadow,
				   klp_shadow_dtor_t dtor)
{
	if (dtor) {
		klp_shadow_in_callback = true;
		dtor(shadow->obj, shadow->data);
		klp_shadow_in_callback = false;
	}
	free(shadow);
}

/**
 * klp_shadow_get() - find the shadow variable <@obj, @id>
 * @obj:	the object it is attached to
 * @id:		its identifier
 *
 * May be called from a shadow variable constructor or destructor.
 *
 * Return: its data, or NULL when there is none.
 */
UKLP_API void *klp_shadow_get(void *obj, unsigned long id)
{
	struct klp_shadow *shadow;
	bool lock = !klp_shadow_in_callback;

	if (lock)
		pthread_mutex_lock(&klp_shadow_lock);
	shadow = klp_shadow_lookup(obj, id);
	if (lock)
		pthread_mutex_unlock(&klp_shadow_lock);

	return shadow ? shadow->data : NULL;
}

static void *__klp_shadow_get_or_alloc(void *obj, unsigned long id, size_t size,
				       klp_shadow_ctor_t ctor, void *ctor_data,
				       bool warn_on_exist)
{
	struct klp_shadow *shadow;
	struct klp_shadow **bucket;
	void *data;
	int err;

	if (klp_shadow_nested(warn_on_exist ? "klp_shadow_alloc"
					    : "klp_shadow_get_or_alloc"))
		return NULL;
	if (size > SIZE_MAX - sizeof(*shadow))
		return NULL;

	pthread_mutex_lock(&klp_shadow_lock);

	shadow = klp_shadow_lookup(obj, id);
	if (shadow) {
		data = shadow->data;
		pthread_mutex_unlock(&klp_shadow_lock);
		goto exists;
	}

	/* Zeroed; @ctor does any further set-up, under the lock. */
	shadow = calloc(1, sizeof(*shadow) + size);
	if (!shadow)
		goto err_unlock;
	shadow->obj = obj;
	shadow->id = id;

	if (ctor) {
		klp_shadow_in_callback = true;
		err = ctor(obj, shadow->data, ctor_data);
		klp_shadow_in_callback = false;
		if (err)
			goto err_free;
	}

	/* Only now visible to klp_shadow_get(), as in the kernel. */
	bucket = klp_shadow_bucket(obj);
	shadow->next = *bucket;
	*bucket = shadow;

	pthread_mutex_unlock(&klp_shadow_lock);
	return shadow->data;

err_free:
	free(shadow);
	pthread_mutex_unlock(&klp_shadow_lock);
	uklp_printk(UKLP_LOG_ERR,
		    "livepatch: Failed to construct shadow variable <%p, %lx> "
		    "(%d)\n",
		    obj, id, err);
	return NULL;
err_unlock:
	pthread_mutex_unlock(&klp_shadow_lock);
	return NULL;
exists:
	if (warn_on_exist) {
		uklp_printk(UKLP_LOG_WARNING,
			    "Duplicate shadow variable <%p, %lx>\n", obj, id);
		return NULL;
	}
	return data;
}

/**
 * klp_shadow_alloc() - attach a new shadow variable <@obj, @id>
 * @obj:	the object to attach it to
 * @id:		its identifier
 * @size:	size of its data
 * @ctor:	optional constructor, called with the new data (zeroed) and
 *		@ctor_data, under the shadow lock; a non-zero return cancels
 * @ctor_data:	passed to @ctor
 *
 * Logs a warning when <@obj, @id> exists already, an error when @ctor fails.
 *
 * Return: the new data; NULL if <@obj, @id> exists already, if memory runs
 * out, or if @ctor failed.
 */
UKLP_API void *klp_shadow_alloc(void *obj, unsigned long id, size_t size,
				klp_shadow_ctor_t ctor, void *ctor_data)
{
	return __klp_shadow_get_or_alloc(obj, id, size, ctor, ctor_data, true);
}

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
UKLP_API void *klp_shadow_get_or_alloc(void *obj, unsigned long id, size_t size,
				       klp_shadow_ctor_t ctor, void *ctor_data)
{
	return __klp_shadow_get_or_alloc(obj, id, size, ctor, ctor_data, false);
}

/**
 * klp_shadow_free() - detach and free <@obj, @id>
 * @obj:	the object
 * @id:		identifier
 * @dtor:	optional destructor called, under the shadow lock, before the
 *		data is freed
 *
 * Does nothing when there is no such variable.
 */
UKLP_API void klp_shadow_free(void *obj, unsigned long id,
			      klp_shadow_dtor_t dtor)
{
	struct klp_shadow **link;
	struct klp_shadow *shadow;

	if (klp_shadow_nested("klp_shadow_free"))
		return;

	pthread_mutex_lock(&klp_shadow_lock);
	for (link = klp_shadow_bucket(obj); (shadow = *link);
	     link = &shadow->next) {
		if (klp_shadow_match(shadow, obj, id)) {
			*link = shadow->next;
			klp_shadow_free_struct(shadow, dtor);
			break;
		}
	}
	pthread_mutex_unlock(&klp_shadow_lock);
}

/**
 * klp_shadow_free_all() - detach and free every shadow variable with @id
 * @id:		identifier
 * @dtor:	optional destructor called, under the shadow lock, for each
 *		before it is freed
 */
UKLP_API void klp_shadow_free_all(unsigned long id, klp_shadow_dtor_t dtor)
{
	struct klp_shadow **link;
	struct klp_shadow *shadow;
	size_t i;

	if (klp_shadow_nested("klp_shadow_free_all"))
		return;

	pthread_mutex_lock(&klp_shadow_lock);
	for (i = 0; i < KLP_SHADOW_HASH_SIZE; i++) {
		link = &klp_shadow_hash[i];
		while ((shadow = *link)) {
			if (shadow->id != id) {
				link = &shadow->next;
				continue;
			}
			*link = shadow->next;
			klp_shadow_free_struct(shadow, dtor);
		}
	}
	pthread_mutex_unlock(&klp_shadow_lock);
}
