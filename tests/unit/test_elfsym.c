// SPDX-License-Identifier: MIT
/*
 * Unit test of common/elfsym.c on fixtures built at run time with cc:
 * a PIE executable, a shared library, a stripped copy of the library and
 * (when the compiler supports it) a non-PIE executable with __mcount_loc.
 *
 * Usage: test_elfsym SCRATCH_DIR
 */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "check.h"
#include "elfsym.h"

/* -fpatchable-function-entry=16,14: 14 NOPs before the symbol. */
#define PFE_BEFORE 14

static char dir[4096];

static void fatal(const char *msg)
{
	printf("FAIL: %s\n", msg);
	printf("elfsym: %d checks, %d failed (aborted)\n", nchecks,
	       nfailed + 1);
	exit(1);
}

static const char *path_of(const char *name)
{
	static char buf[8][4200];
	static int slot;
	char *p = buf[slot++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t i, len = strlen(path);

	if (!len || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -1;
		tmp[i] = path[i];
	}
	return 0;
}

static void write_file(const char *name, const char *text)
{
	FILE *fp = fopen(path_of(name), "w");

	if (!fp || fputs(text, fp) < 0 || fclose(fp))
		fatal("cannot write a fixture file");
}

static int run(const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd);
}

/* Up to @max (value, size) pairs of symbols named @name, from nm -S. */
static int nm_syms(const char *file, const char *name, uint64_t *val,
		   uint64_t *size, int max)
{
	char cmd[8300], line[1024], sym[512];
	uint64_t v, s;
	char t;
	FILE *fp;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "nm -S '%s' 2>/dev/null", file);
	fp = popen(cmd, "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %c %511s", &v, &s, &t,
			   sym) != 4)
			continue;
		if (strcmp(sym, name) || n >= max)
			continue;
		val[n] = v;
		size[n] = s;
		n++;
	}
	pclose(fp);
	return n;
}

static int is_hex40(const char *s)
{
	size_t i;

	if (strlen(s) != 40)
		return 0;
	for (i = 0; i < 40; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static const char src_a[] = "static int dup(int x)\n"
			    "{\n"
			    "\treturn x + 1;\n"
			    "}\n"
			    "\n"
			    "int fix_unique(int x)\n"
			    "{\n"
			    "\treturn dup(x) * 2;\n"
			    "}\n"
			    "\n"
			    "int fix_var = 42;\n";

static const char src_b[] = "static int dup(int x)\n"
			    "{\n"
			    "\treturn x + 2;\n"
			    "}\n"
			    "\n"
			    "int call_b(int x)\n"
			    "{\n"
			    "\treturn dup(x);\n"
			    "}\n";

static const char src_main[] = "int fix_unique(int x);\n"
			       "int call_b(int x);\n"
			       "\n"
			       "int main(void)\n"
			       "{\n"
			       "\treturn fix_unique(1) + call_b(2) == 0;\n"
			       "}\n";

static void build_fixtures(void)
{
	const char *pfe = "-O0 -fpatchable-function-entry=16,14 -Wl,--build-id";

	write_file("fix_a.c", src_a);
	write_file("fix_b.c", src_b);
	write_file("fix_main.c", src_main);
	write_file("not_elf.txt", "this is not an ELF file\n");
	write_file("empty", "");

	if (run("cd '%s' && cc %s -fPIE -pie fix_a.c fix_b.c fix_main.c "
		"-o fix_pie",
		dir, pfe))
		fatal("cannot build the PIE fixture");
	if (run("cd '%s' && cc %s -fPIC -shared -Wl,-soname,libfix.so.1 "
		"fix_a.c fix_b.c -o libfix.so",
		dir, pfe))
		fatal("cannot build the shared library fixture");
	if (run("cd '%s' && strip --strip-all -o libfix-stripped.so libfix.so",
		dir))
		fatal("cannot strip the shared library fixture");
}

/* Look up the unique symbol @name and compare it with nm -S. */
static void check_unique(const struct elfsym_file *f, const char *label,
			 const char *name, unsigned char type,
			 struct elfsym_sym *out)
{
	uint64_t nv[2], ns[2];
	size_t count = 99;
	int rc, n;

	memset(out, 0, sizeof(*out));
	rc = elfsym_lookup(f, name, 0, out, &count);
	check(rc == 0 && count == 1, "%s: lookup(%s, 0) = %d, count %zu", label,
	      name, rc, count);
	check(out->type == type && out->bind == STB_GLOBAL && out->size > 0,
	      "%s: %s type %u bind %u size %" PRIu64, label, name, out->type,
	      out->bind, out->size);
	n = nm_syms(f->path, name, nv, ns, 2);
	check(n == 1 && nv[0] == out->value && ns[0] == out->size,
	      "%s: %s value 0x%" PRIx64 " size %" PRIu64 " match nm -S", label,
	      name, out->value, out->size);
}

static void check_dup(const struct elfsym_file *f, const char *label,
		      struct elfsym_sym dup[2])
{
	uint64_t nv[3], ns[3];
	struct elfsym_sym s;
	size_t count = 99;
	int rc, rc2, n;

	rc = elfsym_lookup(f, "dup", 0, &s, &count);
	check(rc == -EINVAL && count == 2,
	      "%s: lookup(dup, 0) = %d (-EINVAL), count %zu (2)", label, rc,
	      count);
	rc = elfsym_lookup(f, "dup", 1, &dup[0], &count);
	rc2 = elfsym_lookup(f, "dup", 2, &dup[1], &count);
	check(rc == 0 && rc2 == 0 && dup[0].value != dup[1].value &&
		  dup[0].type == STT_FUNC && dup[1].type == STT_FUNC &&
		  dup[0].bind == STB_LOCAL && dup[1].bind == STB_LOCAL,
	      "%s: lookup(dup, 1) = 0x%" PRIx64 ", lookup(dup, 2) = 0x%" PRIx64,
	      label, dup[0].value, dup[1].value);
	n = nm_syms(f->path, "dup", nv, ns, 3);
	check(n == 2 && ((nv[0] == dup[0].value && nv[1] == dup[1].value) ||
			 (nv[0] == dup[1].value && nv[1] == dup[0].value)),
	      "%s: both dup addresses match nm -S", label);
	rc = elfsym_lookup(f, "dup", 3, &s, &count);
	check(rc == -ERANGE && count == 2, "%s: lookup(dup, 3) = %d (-ERANGE)",
	      label, rc);
	rc = elfsym_lookup(f, "no_such_symbol", 0, &s, &count);
	check(rc == -ENOENT && count == 0,
	      "%s: lookup(no_such_symbol) = %d (-ENOENT), count %zu", label, rc,
	      count);
}

static void check_pfe(const struct elfsym_file *f, const char *label,
		      const struct elfsym_sym *fn, size_t nfn)
{
	struct elfsym_sym s;
	size_t i;
	int ok = 1, rc;

	check(f->npfe == nfn && f->pfe,
	      "%s: %zu __patchable_function_entries (one per function: %zu)",
	      label, f->npfe, nfn);
	for (i = 1; i < f->npfe; i++)
		ok &= f->pfe[i - 1] < f->pfe[i];
	check(ok, "%s: pfe sorted and unique", label);
	for (i = 0; i < nfn; i++) {
		check(elfsym_has_entry(f->pfe, f->npfe,
				       fn[i].value - PFE_BEFORE) &&
			  !elfsym_has_entry(f->pfe, f->npfe, fn[i].value),
		      "%s: pfe has %s - %d = 0x%" PRIx64, label, fn[i].name,
		      PFE_BEFORE, fn[i].value - PFE_BEFORE);
		memset(&s, 0, sizeof(s));
		rc = elfsym_find_addr(f, fn[i].value + 1, &s);
		check(rc == 0 && s.value == fn[i].value && s.name &&
			  !strcmp(s.name, fn[i].name),
		      "%s: find_addr(%s + 1) = %s", label, fn[i].name,
		      s.name ? s.name : "(none)");
	}
	check(!f->mcount && !f->nmcount, "%s: no __mcount_loc", label);
}

/* The PIE executable or the unstripped library. */
static void check_linked(const char *file, const char *label, int is_lib,
			 struct elfsym_file *f)
{
	struct elfsym_sym fn[5], var, s;
	size_t nfn = 0;
	int rc;

	rc = elfsym_open(path_of(file), f);
	check(rc == 0, "%s: elfsym_open = %d", label, rc);
	if (rc)
		fatal("cannot continue without the fixture");
	check(f->is_pie_or_dso == 1 && f->from_symtab == 1,
	      "%s: is_pie_or_dso %d, from_symtab %d", label, f->is_pie_or_dso,
	      f->from_symtab);
	if (is_lib)
		check(f->soname && !strcmp(f->soname, "libfix.so.1"),
		      "%s: soname %s", label, f->soname ? f->soname : "(null)");
	else
		check(!f->soname, "%s: no soname", label);
	check(is_hex40(f->build_id), "%s: build_id %s", label, f->build_id);

	check_unique(f, label, "fix_unique", STT_FUNC, &fn[nfn++]);
	check_unique(f, label, "call_b", STT_FUNC, &fn[nfn++]);
	if (!is_lib)
		check_unique(f, label, "main", STT_FUNC, &fn[nfn++]);
	check_unique(f, label, "fix_var", STT_OBJECT, &var);
	check(var.size == sizeof(int), "%s: fix_var size %" PRIu64, label,
	      var.size);
	check_dup(f, label, &fn[nfn]);
	nfn += 2;
	check_pfe(f, label, fn, nfn);

	memset(&s, 0, sizeof(s));
	rc = elfsym_find_addr(f, var.value + 2, &s);
	check(rc == 0 && s.name && !strcmp(s.name, "fix_var"),
	      "%s: find_addr(fix_var + 2) = %s", label,
	      s.name ? s.name : "(none)");
}

static void check_stripped(const struct elfsym_file *lib)
{
	const char *label = "stripped lib";
	struct elfsym_sym s, u;
	struct elfsym_file f;
	size_t count;
	int rc;

	rc = elfsym_open(path_of("libfix-stripped.so"), &f);
	check(rc == 0, "%s: elfsym_open = %d", label, rc);
	if (rc)
		return;
	check(f.from_symtab == 0 && f.is_pie_or_dso == 1,
	      "%s: from_symtab %d (only .dynsym)", label, f.from_symtab);
	elfsym_lookup(lib, "fix_unique", 0, &u, NULL);
	rc = elfsym_lookup(&f, "fix_unique", 0, &s, &count);
	check(rc == 0 && count == 1 && s.value == u.value && s.size == u.size &&
		  s.type == STT_FUNC,
	      "%s: lookup(fix_unique) = %d, 0x%" PRIx64, label, rc, s.value);
	rc = elfsym_lookup(&f, "dup", 0, &s, &count);
	check(rc == -ENOENT, "%s: static dup is gone: %d", label, rc);
	memset(&s, 0, sizeof(s));
	rc = elfsym_find_addr(&f, u.value + 1, &s);
	check(rc == 0 && s.name && !strcmp(s.name, "fix_unique"),
	      "%s: find_addr(fix_unique + 1) = %s", label,
	      s.name ? s.name : "(none)");
	check(f.soname && !strcmp(f.soname, "libfix.so.1"), "%s: soname %s",
	      label, f.soname ? f.soname : "(null)");
	check(!strcmp(f.build_id, lib->build_id), "%s: same build_id", label);
	check(f.npfe == lib->npfe && f.npfe &&
		  !memcmp(f.pfe, lib->pfe, f.npfe * sizeof(*f.pfe)),
	      "%s: same %zu pfe entries", label, f.npfe);
	elfsym_close(&f);
}

static void check_mcount(void)
{
	const char *label = "mcount exe";
	struct elfsym_sym fu, d1, d2;
	struct elfsym_file f;
	int rc;

	if (run("cd '%s' && cc -O0 -pg -mfentry -mrecord-mcount -mnop-mcount "
		"-fno-pie -c fix_a.c -o fix_a_mcount.o 2>/dev/null && "
		"cc -O0 -no-pie fix_a_mcount.o fix_b.c fix_main.c "
		"-o fix_mcount 2>/dev/null",
		dir)) {
		printf("skip - %s: cc cannot build -mrecord-mcount\n", label);
		return;
	}
	rc = elfsym_open(path_of("fix_mcount"), &f);
	check(rc == 0, "%s: elfsym_open = %d", label, rc);
	if (rc)
		return;
	check(f.is_pie_or_dso == 0, "%s: is_pie_or_dso 0 (ET_EXEC)", label);
	check(!f.pfe && !f.npfe, "%s: no __patchable_function_entries", label);
	rc = elfsym_lookup(&f, "fix_unique", 0, &fu, NULL);
	rc |= elfsym_lookup(&f, "dup", 1, &d1, NULL);
	rc |= elfsym_lookup(&f, "dup", 2, &d2, NULL);
	check(rc == 0 && f.nmcount == 2 &&
		  elfsym_has_entry(f.mcount, f.nmcount, fu.value) &&
		  elfsym_has_entry(f.mcount, f.nmcount, d1.value) !=
		      elfsym_has_entry(f.mcount, f.nmcount, d2.value),
	      "%s: %zu __mcount_loc entries: fix_unique and one dup", label,
	      f.nmcount);
	elfsym_close(&f);
}

/* Copy @from to @to with byte @off set to @val (little-endian u16). */
static void patch_copy(const char *from, const char *to, long off,
		       unsigned int val)
{
	FILE *in = fopen(path_of(from), "rb"), *out;
	unsigned char buf[65536];
	size_t n, total = 0;

	out = fopen(path_of(to), "wb");
	if (!in || !out)
		fatal("cannot copy a fixture");
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (total == 0 && n > (size_t)off + 1) {
			buf[off] = val & 0xff;
			buf[off + 1] = val >> 8;
		}
		fwrite(buf, 1, n, out);
		total += n;
	}
	fclose(in);
	if (fclose(out))
		fatal("cannot copy a fixture");
}

static void check_errors(void)
{
	struct elfsym_file f;
	struct elfsym_sym s;
	int rc;

	rc = elfsym_open(path_of("not_elf.txt"), &f);
	check(rc == -ENOEXEC && !f.syms && !f.priv,
	      "text file: elfsym_open = %d (-ENOEXEC)", rc);
	elfsym_close(&f);
	rc = elfsym_open(path_of("empty"), &f);
	check(rc == -ENOEXEC, "empty file: elfsym_open = %d (-ENOEXEC)", rc);
	rc = elfsym_open(path_of("no-such-file"), &f);
	check(rc == -ENOENT, "missing file: elfsym_open = %d (-ENOENT)", rc);

	/* e_machine = EM_AARCH64; e_machine is at offset 18. */
	patch_copy("libfix.so", "libfix-arm.so", 18, EM_AARCH64);
	rc = elfsym_open(path_of("libfix-arm.so"), &f);
	check(rc == -ENOEXEC, "EM_AARCH64 file: elfsym_open = %d (-ENOEXEC)",
	      rc);
	/* EI_CLASS = ELFCLASS32 (the next byte, EI_DATA, stays LSB). */
	patch_copy("libfix.so", "libfix-32.so", EI_CLASS,
		   ELFCLASS32 | ELFDATA2LSB << 8);
	rc = elfsym_open(path_of("libfix-32.so"), &f);
	check(rc == -ENOEXEC, "ELFCLASS32 file: elfsym_open = %d (-ENOEXEC)",
	      rc);

	check(elfsym_has_entry(NULL, 0, 0x1000) == 0, "has_entry(NULL) = 0");
	memset(&f, 0, sizeof(f));
	check(elfsym_lookup(&f, "x", 0, &s, NULL) == -ENOENT &&
		  elfsym_find_addr(&f, 0x1000, &s) == -ENOENT,
	      "zeroed elfsym_file: lookup and find_addr give -ENOENT");
	elfsym_close(&f);
}

/**
 * main() - build the fixtures in a scratch directory and check elfsym
 * @argc:	argument count
 * @argv:	argv[1] is the scratch directory (created if missing)
 *
 * Return: 0 when every check passed, 1 otherwise.
 */
int main(int argc, char **argv)
{
	struct elfsym_file pie, lib;

	if (argc < 2 || strlen(argv[1]) >= sizeof(dir) ||
	    strchr(argv[1], '\'')) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	strcpy(dir, argv[1]);
	if (mkdir_p(dir))
		fatal("cannot create the scratch directory");

	build_fixtures();
	check_linked("fix_pie", "pie", 0, &pie);
	check_linked("libfix.so", "lib", 1, &lib);
	check_stripped(&lib);
	check_mcount();
	check_errors();

	elfsym_close(&pie);
	elfsym_close(&lib);
	elfsym_close(&lib);
	check(!lib.syms && !lib.priv && !lib.path,
	      "elfsym_close twice is harmless");

	printf("elfsym: %d checks, %d failed\n", nchecks, nfailed);
	return nfailed ? 1 : 0;
}
