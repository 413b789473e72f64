// SPDX-License-Identifier: MIT
/*
 * Unit test of tool/patchdesc.c: the klp_objects of patch files built at
 * run time with cc, linked the ways a patch may be linked (GNU ld with
 * RELA, with RELR when it supports -z pack-relative-relocs, lld which
 * leaves RELA addends out of place, a global klp_patch relocated against
 * its symbol), and descriptors it must refuse (bad magic, ABI, no objects).
 *
 * Usage: test_patchdesc SCRATCH_DIR (run from the top of the repository:
 * the fixtures include include/uklp/livepatch.h)
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uklp/livepatch.h>

#include "../../tool/patchdesc.h"
#include "check.h"
#include "elfsym.h"

static char dir[2048];
static char inc[PATH_MAX];

static void fatal(const char *msg)
{
	printf("FAIL: %s\n", msg);
	printf("patchdesc: %d checks, %d failed (aborted)\n", nchecks,
	       nfailed + 1);
	exit(1);
}

static const char src[] =
    "#include <uklp/livepatch.h>\n"
    "static const char *f(void) { return \"x\"; }\n"
    "static struct klp_func funcs[] = {{.old_name = \"g\", .new_func = f},"
    " {}};\n"
    "#ifdef NO_OBJS\n"
    "static struct klp_object objs[] = {{}};\n"
    "#else\n"
    "static struct klp_object objs[] = {\n"
    "    {.name = \"libfoo.so.1\", .funcs = funcs,\n"
    "     .build_id = \"0123456789abcdef0123456789abcdef01234567\"},\n"
    "    {.name = NULL, .funcs = funcs},\n"
    "    {.name = \"libbar.so\", .funcs = funcs, .build_id = \"\"},\n"
    "    {}};\n"
    "#endif\n"
    "#ifdef GLOBAL_PATCH\n"
    "struct klp_patch patch = {.objs = objs};\n"
    "#else\n"
    "static struct klp_patch patch = {.objs = objs};\n"
    "#endif\n"
    "#if defined(BAD_MAGIC) || defined(BAD_ABI)\n"
    "#ifdef BAD_MAGIC\n"
    "#define M 0x12345678u\n"
    "#define A UKLP_ABI_VERSION\n"
    "#else\n"
    "#define M UKLP_PATCH_MAGIC\n"
    "#define A (UKLP_ABI_VERSION + 1)\n"
    "#endif\n"
    "__attribute__((visibility(\"default\"), used))\n"
    "const struct uklp_patch_desc uklp_patch_desc = {M, A, &patch};\n"
    "#else\n"
    "KLP_PATCH(patch);\n"
    "#endif\n";

static int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd);
}

/* Build fixture @name with @flags; 0 or -1 (then the variant is skipped). */
static int build(const char *name, const char *flags)
{
	return run("cd '%s' && cc -O2 -fPIC -shared -I'%s' %s patch.c -o %s "
		   ">%s.log 2>&1",
		   dir, inc, flags, name, name);
}

static int read_desc(const char *name, struct patchdesc *pd, char *why,
		     size_t whylen)
{
	char path[4096];
	struct elfsym_file f;
	struct elfsym_sym sym;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ret = elfsym_open(path, &f);
	if (ret)
		return ret;
	ret = elfsym_lookup(&f, UKLP_PATCH_SYMBOL, 0, &sym, NULL);
	elfsym_close(&f);
	if (ret)
		return ret;
	return patchdesc_read(path, sym.value, pd, why, whylen);
}

static int str_is(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

/* The three objects of the fixture, read right. */
static void check_good(const char *name, const char *flags)
{
	struct patchdesc pd;
	char why[256];
	int ret;

	if (build(name, flags)) {
		printf("skip - %s: cc %s failed (see %s/%s.log)\n", name, flags,
		       dir, name);
		return;
	}
	ret = read_desc(name, &pd, why, sizeof(why));
	check(ret == 0, "%s: read = %d (%s)", name, ret, why);
	if (ret)
		return;
	check(pd.nobjs == 3, "%s: 3 objects (%zu)", name, pd.nobjs);
	if (pd.nobjs != 3)
		goto out;
	check(str_is(pd.objs[0].name, "libfoo.so.1") &&
		  str_is(pd.objs[0].build_id,
			 "0123456789abcdef0123456789abcdef01234567"),
	      "%s: object 0 is libfoo.so.1 with its build-id (%s, %s)", name,
	      pd.objs[0].name ? pd.objs[0].name : "NULL",
	      pd.objs[0].build_id ? pd.objs[0].build_id : "NULL");
	check(!pd.objs[1].name && !pd.objs[1].build_id,
	      "%s: object 1 is the main program, no build-id", name);
	check(str_is(pd.objs[2].name, "libbar.so") && !pd.objs[2].build_id,
	      "%s: object 2 is libbar.so; its empty build-id pins nothing",
	      name);
out:
	patchdesc_free(&pd);
	check(!pd.objs && !pd.nobjs, "%s: patchdesc_free zeroes", name);
}

static void check_bad(const char *name, const char *flags, const char *word)
{
	struct patchdesc pd;
	char why[256];
	int ret;

	if (build(name, flags))
		fatal("cannot build a bad fixture");
	ret = read_desc(name, &pd, why, sizeof(why));
	check(ret == -ENOEXEC && strstr(why, word),
	      "%s: refused with -ENOEXEC (%d), saying '%s' (%s)", name, ret,
	      word, why);
	check(!pd.objs && !pd.nobjs, "%s: nothing left allocated", name);
}

/**
 * main() - build the fixtures in a scratch directory and check patchdesc
 * @argc:	argument count
 * @argv:	argv[1] is the scratch directory
 *
 * Return: 0 when every check passed, 1 otherwise.
 */
int main(int argc, char **argv)
{
	FILE *fp;

	if (argc < 2 || strlen(argv[1]) >= sizeof(dir) ||
	    strchr(argv[1], '\'')) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	strcpy(dir, argv[1]);
	mkdir(dir, 0755);
	if (!realpath("include", inc) || strchr(inc, '\''))
		fatal("run me from the top of the repository (include/)");
	{
		char path[4096];

		snprintf(path, sizeof(path), "%s/patch.c", dir);
		fp = fopen(path, "w");
		if (!fp || fputs(src, fp) < 0 || fclose(fp))
			fatal("cannot write the fixture source");
	}

	check_good("rela.so", "");
	check_good("global.so", "-DGLOBAL_PATCH");
	check_good("relr.so", "-Wl,-z,pack-relative-relocs");
	check_good("lld.so", "-fuse-ld=lld");
	check_good("lld-global.so", "-fuse-ld=lld -DGLOBAL_PATCH");
	check_bad("magic.so", "-DBAD_MAGIC", "magic");
	check_bad("abi.so", "-DBAD_ABI", "patch ABI");
	check_bad("noobjs.so", "-DNO_OBJS", "no objects");

	printf("patchdesc: %d checks, %d failed\n", nchecks, nfailed);
	return nfailed ? 1 : 0;
}
