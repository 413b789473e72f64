/* SPDX-License-Identifier: MIT */
/*
 * patchdesc - what a patch file's KLP_PATCH() descriptor says about the
 * objects it patches, read from the file without loading it (no code of
 * the patch runs in the tool). Prefix: patchdesc_.
 */
#ifndef UKLP_TOOL_PATCHDESC_H
#define UKLP_TOOL_PATCHDESC_H

#include <stddef.h>
#include <stdint.h>

/* One klp_object of the patch. */
struct patchdesc_obj {
	char *name;	/* NULL: the main program, else a file name/soname */
	char *build_id; /* the pinned build-id, or NULL */
};

struct patchdesc {
	struct patchdesc_obj *objs;
	size_t nobjs;
};

/**
 * patchdesc_read() - read the klp_objects of a patch file
 * @path:	the patch (an x86-64 ELF shared object)
 * @desc_addr:	link-time address of its uklp_patch_desc
 * @pd:		out; release with patchdesc_free()
 * @why:	out: on -ENOEXEC, what is wrong with the descriptor
 * @whylen:	size of @why
 *
 * The pointers of the descriptor are followed through the file's dynamic
 * relocations (RELA, or addends in place for RELR and linkers that write
 * them).
 *
 * Return: 0, -ENOEXEC (the descriptor cannot be read: @why says why),
 * -ENOMEM or -errno of opening the file.
 */
int patchdesc_read(const char *path, uint64_t desc_addr, struct patchdesc *pd,
		   char *why, size_t whylen);

/**
 * patchdesc_free() - release what patchdesc_read() allocated
 * @pd:	the description (zeroed)
 */
void patchdesc_free(struct patchdesc *pd);

#endif /* UKLP_TOOL_PATCHDESC_H */
