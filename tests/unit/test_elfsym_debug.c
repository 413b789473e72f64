// SPDX-License-Identifier: MIT
/*
 * Unit test of common/elfsym.c with separate debug files, on fixtures built
 * at run time with cc and binutils: a shared library with static
 * functions, its debug file (objcopy --only-keep-debug), its stripped copy
 * (strip --strip-debug --strip-unneeded) with a .gnu_debuglink, and a
 * second build of it (another build-id and CRC) for the debug files that
 * must not be used. Each case lays out its own directory and
 * UKLP_DEBUG_DIR, so that only the debug file it means can be found.
 *
 * Usage: test_elfsym_debug SCRATCH_DIR
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <elf.h>

#include "check.h"
#include "elfsym.h"

static char dir[PATH_MAX];

static void fatal(const char *msg)
{
	printf("FAIL: %s\n", msg);
	printf("elfsym_debug: %d checks, %d failed (aborted)\n", nchecks,
	       nfailed + 1);
	exit(1);
}

/* "SCRATCH/NAME" (a few slots, reused in turn). */
static const char *at(const char *fmt, ...)
{
	static char buf[8][PATH_MAX + 256];
	static int slot;
	char *p = buf[slot++ % 8], rel[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (snprintf(p, sizeof(buf[0]), "%s/%s", dir, rel) >=
	    (int)sizeof(buf[0]))
		fatal("path too long");
	return p;
}

/* Run a shell command in the scratch directory; 0 when it succeeded. */
static int run(const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;
	int n, len;

	len = snprintf(cmd, sizeof(cmd), "cd '%s' && ", dir);
	va_start(ap, fmt);
	n = vsnprintf(cmd + len, sizeof(cmd) - (size_t)len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)(n + len) >= sizeof(cmd))
		return -1;
	return system(cmd);
}

static void write_file(const char *name, const char *text)
{
	FILE *fp = fopen(at("%s", name), "w");

	if (!fp || fputs(text, fp) < 0 || fclose(fp))
		fatal("cannot write a fixture file");
}

static const char src_a[] =
    "static int dup(int x)\n"
    "{\n"
    "\treturn x + 1;\n"
    "}\n"
    "\n"
    "static __attribute__((noinline)) int hidden_helper(int x)\n"
    "{\n"
    "\treturn x * HELPER_FACTOR;\n"
    "}\n"
    "\n"
    "int dbg_api(int x)\n"
    "{\n"
    "\treturn hidden_helper(x) + dup(x);\n"
    "}\n"
    "\n"
    "int dbg_var = 7;\n";

static const char src_b[] = "static int dup(int x)\n"
			    "{\n"
			    "\treturn x + 2;\n"
			    "}\n"
			    "\n"
			    "int dbg_b(int x)\n"
			    "{\n"
			    "\treturn dup(x);\n"
			    "}\n";

/* A versioned symbol: vfn@@V2 (default) and vfn@V1. */
static const char src_ver[] = "int vfn_new(void)\n"
			      "{\n"
			      "\treturn 2;\n"
			      "}\n"
			      "\n"
			      "int vfn_old(void)\n"
			      "{\n"
			      "\treturn 1;\n"
			      "}\n"
			      "\n"
			      "__asm__(\".symver vfn_new, vfn@@V2\");\n"
			      "__asm__(\".symver vfn_old, vfn@V1\");\n";

static const char map_ver[] = "V1 { global: vfn; local: *; };\n"
			      "V2 { global: vfn; } V1;\n";

/*
 * full/libdbg.so: the library as linked; dbg/libdbg.so.debug: its debug
 * file; stripped/libdbg.so: stripped, with a debuglink to it. other/...:
 * the same for a second build (another build-id, another CRC).
 */
static void build_fixtures(void)
{
	static const char *const builds[] = {"full", "other"};
	const char *cc = "cc -O0 -fpatchable-function-entry=16,14 -fPIC "
			 "-shared -Wl,--build-id -Wl,-soname,libdbg.so";
	int i;

	write_file("dbg_a.c", src_a);
	write_file("dbg_b.c", src_b);
	for (i = 0; i < 2; i++) {
		const char *b = builds[i];

		if (run("mkdir -p %s/lib %s/dbg %s/stripped && "
			"%s -DHELPER_FACTOR=%d dbg_a.c dbg_b.c "
			"-o %s/lib/libdbg.so",
			b, b, b, cc, i ? 5 : 3, b))
			fatal("cannot build the library fixture");
		if (run("objcopy --only-keep-debug %s/lib/libdbg.so "
			"%s/dbg/libdbg.so.debug && "
			"strip --strip-debug --strip-unneeded "
			"-o %s/stripped/nolink.so %s/lib/libdbg.so && "
			"objcopy --add-gnu-debuglink=%s/dbg/libdbg.so.debug "
			"%s/stripped/nolink.so %s/stripped/libdbg.so",
			b, b, b, b, b, b, b))
			fatal(
			    "cannot make the debug file or strip the library");
	}
	/* Without its patchable entries; the debug file is the full
	 * library (any file with the link's name and CRC will do). */
	if (run("mkdir -p nopfe && strip --strip-debug --strip-unneeded "
		"-R __patchable_function_entries -o nopfe/tmp.so "
		"full/lib/libdbg.so && cp full/lib/libdbg.so nopfe/libfull.so "
		"&& objcopy --add-gnu-debuglink=nopfe/libfull.so nopfe/tmp.so "
		"nopfe/libdbg.so && rm nopfe/tmp.so"))
		fatal("cannot make the fixture without patchable entries");
	/* Versioned symbols: ver/lib/libver.so, its debug file, stripped. */
	write_file("ver.c", src_ver);
	write_file("ver.map", map_ver);
	if (run("mkdir -p ver/lib ver/dbg ver/stripped && cc -O0 -fPIC "
		"-shared -Wl,--build-id -Wl,--version-script=ver.map ver.c "
		"-o ver/lib/libver.so && objcopy --only-keep-debug "
		"ver/lib/libver.so ver/dbg/libver.so.debug && strip "
		"--strip-debug --strip-unneeded -o ver/stripped/libver.so "
		"ver/lib/libver.so"))
		fatal("cannot build the versioned library fixture");
	/* Its debuglink names itself. */
	if (run("mkdir -p self && cp full/stripped/nolink.so self/tmp.so && "
		"objcopy --add-gnu-debuglink=self/tmp.so self/tmp.so "
		"self/libdbg.so && rm self/tmp.so"))
		fatal("cannot make the self-linked fixture");
}

/* Make CASE/libdbg.so a copy of the stripped library of @build. */
static void stage(const char *name, const char *build)
{
	if (run("rm -rf %s && mkdir -p %s && cp %s/stripped/libdbg.so %s/",
		name, name, build, name))
		fatal("cannot stage a case");
}

/* Copy @build's debug file to @dest (relative to the scratch dir). */
static void put_debug(const char *build, const char *dest)
{
	if (run("mkdir -p \"$(dirname '%s')\" && cp %s/dbg/libdbg.so.debug "
		"'%s'",
		dest, build, dest))
		fatal("cannot place a debug file");
}

/* The .build-id path of @build_id under @root: ROOT/.build-id/xx/yy.debug */
static const char *build_id_path(const char *root, const char *build_id)
{
	static char buf[PATH_MAX + 256];

	snprintf(buf, sizeof(buf), "%s/.build-id/%.2s/%s.debug", root, build_id,
		 build_id + 2);
	return buf;
}

static void set_roots(const char *roots)
{
	if (roots)
		setenv(ELFSYM_DEBUG_DIR_ENV, roots, 1);
	else
		unsetenv(ELFSYM_DEBUG_DIR_ENV);
}

/* The reference: the unstripped library. */
static struct elfsym_file ref;
static struct elfsym_sym ref_helper, ref_dup[2];

static void open_reference(void)
{
	int rc;

	rc = elfsym_open(at("full/lib/libdbg.so"), &ref);
	check(rc == 0 && ref.from_symtab && !ref.debug_path &&
		  ref.debug_via == ELFSYM_DEBUG_NONE && !ref.debug_note,
	      "reference: elfsym_open = %d, from_symtab %d, no debug file", rc,
	      ref.from_symtab);
	if (rc)
		fatal("cannot continue without the reference");
	rc = elfsym_lookup(&ref, "hidden_helper", 0, &ref_helper, NULL);
	rc |= elfsym_lookup(&ref, "dup", 1, &ref_dup[0], NULL);
	rc |= elfsym_lookup(&ref, "dup", 2, &ref_dup[1], NULL);
	check(rc == 0 && ref_helper.bind == STB_LOCAL && ref.npfe >= 4 &&
		  strlen(ref.build_id) == 40,
	      "reference: static hidden_helper and two dup, %zu pfe, "
	      "build-id %s",
	      ref.npfe, ref.build_id);
	if (rc || strlen(ref.build_id) < 4)
		fatal("the reference library is not as expected");
}

/* The symbols of a stripped library found through its debug file. */
static void check_found(const char *label, const char *file,
			const char *want_path, enum elfsym_debug_via via)
{
	char real[PATH_MAX], desc[PATH_MAX + 64], want_desc[PATH_MAX + 64];
	struct elfsym_sym s, d1, d2;
	struct elfsym_file f;
	size_t count = 0;
	int rc;

	rc = elfsym_open(at("%s", file), &f);
	check(rc == 0, "%s: elfsym_open = %d", label, rc);
	if (rc)
		return;
	if (!realpath(want_path, real))
		snprintf(real, sizeof(real), "%s (missing)", want_path);
	check(f.from_symtab == 1 && f.debug_via == via && f.debug_path &&
		  !strcmp(f.debug_path, want_path),
	      "%s: symbols from %s (via %d), expected %s (via %d)", label,
	      f.debug_path ? f.debug_path : "(none)", f.debug_via, want_path,
	      via);
	memset(&s, 0, sizeof(s));
	rc = elfsym_lookup(&f, "hidden_helper", 0, &s, &count);
	check(rc == 0 && count == 1 && s.value == ref_helper.value &&
		  s.size == ref_helper.size && s.type == STT_FUNC &&
		  s.bind == STB_LOCAL,
	      "%s: static hidden_helper = %d, 0x%" PRIx64 " size %" PRIu64
	      " (as in the unstripped library)",
	      label, rc, s.value, s.size);
	rc = elfsym_lookup(&f, "dup", 1, &d1, &count);
	rc |= elfsym_lookup(&f, "dup", 2, &d2, &count);
	check(rc == 0 && count == 2 && d1.value == ref_dup[0].value &&
		  d2.value == ref_dup[1].value,
	      "%s: dup,1 and dup,2 in the same order as the unstripped "
	      "library's",
	      label);
	memset(&s, 0, sizeof(s));
	rc = elfsym_find_addr(&f, ref_helper.value + 1, &s);
	check(rc == 0 && s.name && !strcmp(s.name, "hidden_helper"),
	      "%s: find_addr(hidden_helper + 1) = %s", label,
	      s.name ? s.name : "(none)");
	check(!strcmp(f.build_id, ref.build_id) && f.soname &&
		  !strcmp(f.soname, "libdbg.so"),
	      "%s: build-id and soname of the file itself", label);
	check(f.npfe == ref.npfe &&
		  !memcmp(f.pfe, ref.pfe, f.npfe * sizeof(*f.pfe)),
	      "%s: the same %zu patchable entries", label, f.npfe);
	elfsym_describe(&f, desc, sizeof(desc));
	snprintf(want_desc, sizeof(want_desc), "%s (%s)", want_path,
		 via == ELFSYM_DEBUG_LINK ? "debuglink" : "build-id");
	check(!strcmp(desc, want_desc), "%s: describe: %s", label, desc);
	elfsym_close(&f);
}

/* A stripped library whose debug file is not found, or not used. */
static void check_not_used(const char *label, const char *file,
			   const char *note_path, const char *note_why)
{
	char desc[2 * PATH_MAX];
	struct elfsym_sym s;
	struct elfsym_file f;
	int rc, ok;

	rc = elfsym_open(at("%s", file), &f);
	check(rc == 0, "%s: elfsym_open = %d", label, rc);
	if (rc)
		return;
	check(f.from_symtab == 0 && !f.debug_path &&
		  f.debug_via == ELFSYM_DEBUG_NONE,
	      "%s: .dynsym only (from_symtab %d, debug_path %s)", label,
	      f.from_symtab, f.debug_path ? f.debug_path : "(none)");
	rc = elfsym_lookup(&f, "hidden_helper", 0, &s, NULL);
	check(rc == -ENOENT, "%s: static hidden_helper not found: %d", label,
	      rc);
	rc = elfsym_lookup(&f, "dbg_api", 0, &s, NULL);
	check(rc == 0 && s.bind == STB_GLOBAL, "%s: exported dbg_api found: %d",
	      label, rc);
	check(f.npfe == ref.npfe, "%s: %zu patchable entries of the file",
	      label, f.npfe);
	if (note_path) {
		ok = f.debug_note &&
		     !strncmp(f.debug_note, note_path, strlen(note_path)) &&
		     strstr(f.debug_note, note_why);
		check(ok, "%s: reason recorded: %s", label,
		      f.debug_note ? f.debug_note : "(none)");
	} else {
		check(!f.debug_note, "%s: nothing to note: %s", label,
		      f.debug_note ? f.debug_note : "(none)");
	}
	elfsym_describe(&f, desc, sizeof(desc));
	ok = strstr(desc, ".dynsym of ") == desc &&
	     strstr(desc, note_path ? note_why : "no debug file found");
	check(ok, "%s: describe: %s", label, desc);
	elfsym_close(&f);
}

/*
 * In a .symtab the default version of a versioned symbol is "vfn@@V2":
 * found as "vfn", as in .dynsym and dlsym(); the other keeps "vfn@V1".
 */
static void check_versioned(void)
{
	struct elfsym_file lib, f;
	struct elfsym_sym n1, o1, s;
	char bid[sizeof(lib.build_id)];
	size_t count = 0;
	int rc;

	rc = elfsym_open(at("ver/lib/libver.so"), &lib);
	check(rc == 0 && lib.from_symtab, "versioned: elfsym_open = %d", rc);
	if (rc)
		return;
	rc = elfsym_lookup(&lib, "vfn_new", 0, &n1, NULL);
	rc |= elfsym_lookup(&lib, "vfn_old", 0, &o1, NULL);
	check(rc == 0 && n1.value != o1.value,
	      "versioned: vfn_new and vfn_old (local) found");
	memset(&s, 0, sizeof(s));
	rc = elfsym_lookup(&lib, "vfn", 0, &s, &count);
	check(rc == 0 && count == 1 && s.value == n1.value &&
		  s.bind == STB_GLOBAL,
	      "versioned: vfn@@V2 found as 'vfn' (%d, count %zu)", rc, count);
	rc = elfsym_lookup(&lib, "vfn@V1", 0, &s, &count);
	check(rc == 0 && s.value == o1.value, "versioned: vfn@V1 kept: %d", rc);
	memset(&s, 0, sizeof(s));
	rc = elfsym_find_addr(&lib, n1.value + 1, &s);
	check(rc == 0 && s.name && !strcmp(s.name, "vfn"),
	      "versioned: find_addr(vfn_new + 1) = %s (the global)",
	      s.name ? s.name : "(none)");
	snprintf(bid, sizeof(bid), "%s", lib.build_id);
	elfsym_close(&lib);

	if (run("mkdir -p \"$(dirname '%s')\" && cp ver/dbg/libver.so.debug "
		"'%s'",
		build_id_path("root-ver", bid), build_id_path("root-ver", bid)))
		fatal("cannot place the versioned library's debug file");
	set_roots(at("root-ver"));
	rc = elfsym_open(at("ver/stripped/libver.so"), &f);
	check(rc == 0 && f.debug_via == ELFSYM_DEBUG_BUILD_ID,
	      "versioned, stripped: elfsym_open = %d, via %d", rc, f.debug_via);
	if (rc)
		return;
	memset(&s, 0, sizeof(s));
	rc = elfsym_lookup(&f, "vfn", 0, &s, &count);
	check(rc == 0 && count == 1 && s.value == n1.value,
	      "versioned, stripped: 'vfn' is vfn@@V2 of the debug file (%d)",
	      rc);
	elfsym_close(&f);
	set_roots(NULL);
}

static void cases(void)
{
	char real[PATH_MAX], want[PATH_MAX + 64];
	const char *bid = ref.build_id, *p;
	struct elfsym_file f;
	int rc;

	run("mkdir -p empty-root");

	/* No debug file anywhere: .dynsym, as before. */
	stage("none", "full");
	set_roots(at("empty-root"));
	check_not_used("no debug file", "none/libdbg.so", NULL, NULL);
	set_roots(NULL);
	check_not_used("no debug file, default root", "none/libdbg.so", NULL,
		       NULL);

	/* By build-id, in the second of two roots. */
	stage("by-id", "full");
	put_debug("full", build_id_path("root-id", bid));
	/* An empty entry and a missing root are skipped. */
	snprintf(want, sizeof(want), "%s::%s", at("no-such-root"),
		 at("root-id"));
	set_roots(want);
	check_found("build-id", "by-id/libdbg.so",
		    build_id_path(at("root-id"), bid), ELFSYM_DEBUG_BUILD_ID);

	/* By debuglink: next to the file, in .debug/, under a root. */
	set_roots(at("empty-root"));
	stage("link-next", "full");
	put_debug("full", "link-next/libdbg.so.debug");
	if (!realpath(at("link-next"), real))
		fatal("realpath");
	snprintf(want, sizeof(want), "%s/libdbg.so.debug", real);
	check_found("debuglink next to the file", "link-next/libdbg.so", want,
		    ELFSYM_DEBUG_LINK);

	stage("link-dot", "full");
	put_debug("full", "link-dot/.debug/libdbg.so.debug");
	if (!realpath(at("link-dot"), real))
		fatal("realpath");
	snprintf(want, sizeof(want), "%s/.debug/libdbg.so.debug", real);
	check_found("debuglink in .debug/", "link-dot/libdbg.so", want,
		    ELFSYM_DEBUG_LINK);

	stage("link-root", "full");
	if (!realpath(at("link-root"), real))
		fatal("realpath");
	snprintf(want, sizeof(want), "%s%s/libdbg.so.debug", at("root-link"),
		 real);
	put_debug("full", want);
	set_roots(at("root-link"));
	check_found("debuglink under ROOT/DIR", "link-root/libdbg.so", want,
		    ELFSYM_DEBUG_LINK);

	/* DIR is the real path's: through a symlink from elsewhere. */
	set_roots(at("empty-root"));
	run("mkdir -p elsewhere && ln -sf ../link-next/libdbg.so "
	    "elsewhere/liblink.so");
	if (!realpath(at("link-next"), real))
		fatal("realpath");
	snprintf(want, sizeof(want), "%s/libdbg.so.debug", real);
	check_found("debuglink of a symlinked file", "elsewhere/liblink.so",
		    want, ELFSYM_DEBUG_LINK);

	/* Build-id comes first. */
	stage("both", "full");
	put_debug("full", "both/libdbg.so.debug");
	put_debug("full", build_id_path("root-both", bid));
	set_roots(at("root-both"));
	check_found("build-id before debuglink", "both/libdbg.so",
		    build_id_path(at("root-both"), bid), ELFSYM_DEBUG_BUILD_ID);

	/* A wrong debug file under the build-id path: ignored. */
	stage("bad-id", "full");
	put_debug("other", build_id_path("root-bad", bid));
	set_roots(at("root-bad"));
	p = build_id_path(at("root-bad"), bid);
	check_not_used("wrong build-id", "bad-id/libdbg.so", p,
		       "build-id differs");

	/* The stripped file itself there: the same build-id, no .symtab. */
	stage("no-symtab", "full");
	if (run("mkdir -p \"$(dirname '%s')\" && cp full/stripped/nolink.so "
		"'%s'",
		build_id_path("root-nosym", bid),
		build_id_path("root-nosym", bid)))
		fatal("cannot place the stripped file as a debug file");
	set_roots(at("root-nosym"));
	check_not_used("debug file without .symtab", "no-symtab/libdbg.so",
		       build_id_path(at("root-nosym"), bid), "no .symtab");

	/* Another build's debug file under the link's name: CRC differs. */
	stage("bad-crc", "full");
	put_debug("other", "bad-crc/libdbg.so.debug");
	set_roots(at("empty-root"));
	if (!realpath(at("bad-crc"), real))
		fatal("realpath");
	snprintf(want, sizeof(want), "%s/libdbg.so.debug", real);
	check_not_used("wrong CRC", "bad-crc/libdbg.so", want, "CRC differs");

	/* A wrong one by build-id, then the right one by debuglink. */
	stage("fallback", "full");
	put_debug("full", "fallback/libdbg.so.debug");
	set_roots(at("root-bad"));
	if (!realpath(at("fallback"), real))
		fatal("realpath");
	snprintf(want, sizeof(want), "%s/libdbg.so.debug", real);
	check_found("wrong build-id file, then debuglink", "fallback/libdbg.so",
		    want, ELFSYM_DEBUG_LINK);
	rc = elfsym_open(at("fallback/libdbg.so"), &f);
	p = build_id_path(at("root-bad"), bid);
	check(rc == 0 && f.debug_note && !strncmp(f.debug_note, p, strlen(p)),
	      "wrong build-id file, then debuglink: the rejected one noted: "
	      "%s",
	      rc == 0 && f.debug_note ? f.debug_note : "(none)");
	elfsym_close(&f);

	/* A debuglink naming the file itself is skipped. */
	set_roots(at("empty-root"));
	check_not_used("debuglink naming the file itself", "self/libdbg.so",
		       NULL, NULL);

	/* No patchable entries in the file: its debug file's are read. */
	rc = elfsym_open(at("nopfe/libdbg.so"), &f);
	check(rc == 0 && f.debug_via == ELFSYM_DEBUG_LINK && f.from_symtab &&
		  f.npfe == ref.npfe && f.pfe &&
		  !memcmp(f.pfe, ref.pfe, f.npfe * sizeof(*f.pfe)),
	      "file without patchable entries: %zu from its debug file %s",
	      f.npfe, f.debug_path ? f.debug_path : "(none)");
	elfsym_close(&f);
	set_roots(NULL);
}

/**
 * main() - build the fixtures in a scratch directory and check elfsym with
 * separate debug files
 * @argc:	argument count
 * @argv:	argv[1] is the scratch directory (created if missing)
 *
 * Return: 0 when every check passed, 1 otherwise.
 */
int main(int argc, char **argv)
{
	if (argc < 2 || strchr(argv[1], '\'') ||
	    strlen(argv[1]) >= sizeof(dir)) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	if (mkdir(argv[1], 0755) && errno != EEXIST)
		fatal("cannot create the scratch directory");
	if (!realpath(argv[1], dir))
		fatal("cannot resolve the scratch directory");

	build_fixtures();
	open_reference();
	cases();
	check_versioned();
	elfsym_close(&ref);

	printf("elfsym_debug: %d checks, %d failed\n", nchecks, nfailed);
	return nfailed ? 1 : 0;
}
