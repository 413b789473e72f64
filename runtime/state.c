// SPDX-License-Identifier: MIT
/*
 * state.c - system states and the compatibility rule (the kernel's
 * kernel/livepatch/state.c).
 */
#include "core.h"
#include "uklp_api.h"

#define klp_for_each_state(patch, state)                                       \
	for (state = (patch)->states; state && state->id; state++)

UKLP_API struct klp_state *klp_get_state(struct klp_patch *patch,
					 unsigned long id)
{
	struct klp_state *state;

	klp_for_each_state (patch, state)
		if (state->id == id)
			return state;
	return NULL;
}

UKLP_API struct klp_state *klp_get_prev_state(unsigned long id)
{
	struct klp_state *state, *last_state = NULL;

	if (!klp_transition_patch)
		return NULL;
	for (struct klp_patch *p = klp_patches; p; p = KLP_PATCH_P(p)->next) {
		if (p == klp_transition_patch)
			break;
		state = klp_get_state(p, id);
		if (state)
			last_state = state;
	}
	return last_state;
}

/* A cumulative (replace) patch must handle every already modified state. */
static bool klp_is_state_compatible(struct klp_patch *patch,
				    struct klp_state *old_state)
{
	struct klp_state *state = klp_get_state(patch, old_state->id);

	if (!state)
		return !patch->replace;
	return state->version >= old_state->version;
}

bool klp_is_patch_compatible(struct klp_patch *patch)
{
	struct klp_state *old_state;

	for (struct klp_patch *p = klp_patches; p; p = KLP_PATCH_P(p)->next)
		klp_for_each_state (p, old_state)
			if (!klp_is_state_compatible(patch, old_state))
				return false;
	return true;
}
