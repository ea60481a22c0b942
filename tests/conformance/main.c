/* main.c — promql-conformance: runs Prometheus's PromQL .test files.
 *
 *   promql-conformance [--parse-only] [--tiers EVAL_TIERS.md] [--max-tier T2] [--must-pass T2] [-v] FILE.test...
 *
 * Every file is parsed whole first (FORMAT.md §1.5). A statement is a load
 * block or an eval. With --parse-only (and, for evals, whenever no
 * evaluator is linked) a statement passes when everything in it parses:
 * each series line of a load; the query — which must also print and
 * reparse to the same text — and every expected result of an eval. A query
 * our parser rejects is a failure, unless EVAL_TIERS.md puts the eval in
 * tier TX (experimental syntax we do not support yet): then it is skipped
 * and the reason (its x: tags) is listed with -v. With an evaluator, loads
 * go into the in-memory store and evals are run and compared (run_eval.c,
 * compare.c); --max-tier skips evals of higher tiers. --must-pass T2 runs
 * every eval but turns a failure above T2 into a listed skip whose reason
 * is the tier and its tags (nh: native histograms, x:…: experimental); a
 * pass there counts as a pass. With an evaluator a line per tier follows
 * the files: "evals T1: N passed, N failed, N skipped".
 *
 * Output: one line per file "<file>: N passed, N failed, N skipped", failures
 * listed under it, and a last line "N passed, N failed, N skipped". Exit
 * status 1 when anything failed. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/conformance/conformance.h"

struct tier {
    char *key;  /* "file.test:123" */
    char tier[8];
    char *tags;
};

struct opts {
    bool parse_only, verbose;
    const char *tiers_path;
    const char *max_tier; /* evaluate evals up to this tier ("T1" < "T2" < "T3" < "TX") */
    /* evals above this tier are run, but a failure there is reported as a
     * skip with its reason (the tier's tags: nh = native histograms, x:… =
     * experimental), not as a failure */
    const char *must_pass;
    struct tier *tiers;
    size_t n_tiers;
};

struct counts {
    long passed, failed, skipped;
};

/* per tier (T1, T2, T3, TX, unknown): passed, failed, skipped */
static long tier_counts[5][3];

static int tier_index(const struct tier *t)
{
    static const char *names[] = { "T1", "T2", "T3", "TX" };
    for (int i = 0; t && i < 4; i++)
        if (strcmp(t->tier, names[i]) == 0)
            return i;
    return 4;
}

static int cmp_tier(const void *a, const void *b)
{
    return strcmp(((const struct tier *)a)->key, ((const struct tier *)b)->key);
}

/* EVAL_TIERS.md lines: "<file>:<line> <instant|range> <tier> <tags>". */
static void load_tiers(struct opts *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    size_t cap = 0;
    while (fgets(line, sizeof(line), f)) {
        char key[256], kind[16], tier[8], tags[512];
        if (sscanf(line, "%255s %15s %7s %511s", key, kind, tier, tags) != 4 || !strstr(key, ".test:"))
            continue;
        if (o->n_tiers == cap) {
            cap = cap ? cap * 2 : 1024;
            o->tiers = realloc(o->tiers, cap * sizeof(*o->tiers));
        }
        struct tier *t = &o->tiers[o->n_tiers++];
        t->key = strdup(key);
        snprintf(t->tier, sizeof(t->tier), "%s", tier);
        t->tags = strdup(tags);
    }
    fclose(f);
    qsort(o->tiers, o->n_tiers, sizeof(*o->tiers), cmp_tier);
}

static const struct tier *find_tier(const struct opts *o, const char *file, int line)
{
    char key[300];
    snprintf(key, sizeof(key), "%s:%d", file, line);
    struct tier k = { .key = key };
    return bsearch(&k, o->tiers, o->n_tiers, sizeof(*o->tiers), cmp_tier);
}

/* ---- parse-only checks -------------------------------------------------- */

static bool check_lines(const struct conf_file *f, const struct conf_series_line *v, size_t n,
                        const char *what)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        if (v[i].start_ts || v[i].parse_rc == 0)
            continue;
        printf("  FAIL %s:%d: %s line does not parse: %s\n     %s\n", f->name, v[i].line, what,
               v[i].err.msg, v[i].text);
        ok = false;
    }
    return ok;
}

static bool has_start_ts(const struct conf_cmd *c)
{
    for (size_t i = 0; i < c->n_series; i++)
        if (c->series[i].start_ts)
            return true;
    return false;
}

/* Parses the query, prints it, reparses the print and compares. */
static int parse_query(struct scry_arena *a, const char *q, struct pql_expr **out,
                       struct scry_err *err)
{
    int rc = pql_parse(a, q, strlen(q), out, err);
    if (rc != 0)
        return rc;
    struct scry_buf b1 = { 0 }, b2 = { 0 };
    pql_expr_print(*out, &b1);
    struct pql_expr *e2;
    rc = pql_parse(a, b1.p, b1.len, &e2, err);
    if (rc == 0) {
        pql_expr_print(e2, &b2);
        if (strcmp(b1.p, b2.p) != 0)
            rc = scry_err_set(err, SCRY_EINVAL, "round trip unstable: %s -> %s", b1.p, b2.p);
        pql_expr_fini(e2);
    } else {
        scry_err_prefix(err, "printed form %s does not reparse", b1.p);
    }
    scry_buf_fini(&b1);
    scry_buf_fini(&b2);
    if (rc != 0)
        pql_expr_fini(*out);
    return rc;
}

static void run_load(const struct opts *o, const struct conf_file *f, const struct conf_cmd *c,
                     struct conf_memstore *ms, struct counts *n)
{
    if (!check_lines(f, c->series, c->n_series, "load")) {
        n->failed++;
        return;
    }
    if (!o->parse_only) {
        /* A later line with the same label set replaces an earlier one. */
        for (size_t i = 0; i < c->n_series; i++) {
            const struct conf_series_line *sl = &c->series[i];
            if (sl->start_ts)
                continue;
            bool replaced = false;
            for (size_t j = i + 1; j < c->n_series && !replaced; j++)
                replaced = !c->series[j].start_ts &&
                           scry_labels_equal(&sl->desc.labels, &c->series[j].desc.labels);
            struct scry_err err = { 0 };
            if (!replaced && conf_memstore_load(ms, sl, c->step_ms, &err) != 0) {
                printf("  FAIL %s:%d: load: %s\n", f->name, c->line, err.msg);
                n->failed++;
                return;
            }
        }
    }
    if (has_start_ts(c) && o->verbose)
        printf("  note %s:%d: @st start-timestamp lines accepted without checking (experimental)\n",
               f->name, c->line);
    n->passed++;
}

static void run_eval(const struct opts *o, const struct conf_file *f, const struct conf_cmd *c,
                     struct scry_arena *a, struct scry_queryable *store, struct counts *n)
{
    const struct tier *t = find_tier(o, f->name, c->line);
    bool tx = t && strcmp(t->tier, "TX") == 0;
    struct pql_expr *e = NULL;
    struct scry_err err = { 0 };
    if (parse_query(a, c->query, &e, &err) != 0) {
        if (tx) {
            n->skipped++;
            if (o->verbose)
                printf("  SKIP %s:%d (%s): %s\n     %s\n", f->name, c->line, t->tags, err.msg,
                       c->query);
            return;
        }
        printf("  FAIL %s:%d [%s]: %s\n     %s\n", f->name, c->line, t ? t->tier : "?", err.msg,
               c->query);
        n->failed++;
        return;
    }
    bool ok = check_lines(f, c->results, c->n_results, "expected result");
    pql_expr_fini(e);
    if (!ok) {
        n->failed++;
        return;
    }
    if (o->parse_only) {
        n->passed++;
        return;
    }
    const struct conf_engine *eng = conf_engine_default();
    const char *skip = !eng ? "no evaluator linked"
                       : (t && strcmp(t->tier, o->max_tier) > 0) ? "tier above --max-tier" : NULL;
    if (skip) {
        if (o->verbose)
            printf("  SKIP %s:%d (%s)\n", f->name, c->line, skip);
        n->skipped++;
        return;
    }
    char why[600];
    int ti = tier_index(t);
    if (conf_run_eval(eng, store, c, a, why, sizeof(why))) {
        n->passed++;
        tier_counts[ti][0]++;
        return;
    }
    if (o->must_pass && t && strcmp(t->tier, o->must_pass) > 0) {
        printf("  SKIP %s:%d [%s] (%s): %s\n     %s\n", f->name, c->line, t->tier, t->tags, why,
               c->query);
        n->skipped++;
        tier_counts[ti][2]++;
        return;
    }
    printf("  FAIL %s:%d [%s]: %s\n     %s\n", f->name, c->line, t ? t->tier : "?", why, c->query);
    n->failed++;
    tier_counts[ti][1]++;
}

static void run_file(const struct opts *o, const char *path, struct counts *total)
{
    struct scry_arena *a = scry_arena_create(1 << 20);
    struct conf_file f;
    struct scry_err err = { 0 };
    struct counts n = { 0 };
    if (conf_file_parse(a, path, &f, &err) != 0) {
        printf("%s: 0 passed, 1 failed, 0 skipped\n  FAIL %s\n", path, err.msg);
        total->failed++;
        scry_arena_destroy(a);
        return;
    }
    struct conf_memstore *ms = conf_memstore_create();
    /* Per-file output: failures first, then the file's line. */
    for (size_t i = 0; i < f.n_cmds; i++) {
        const struct conf_cmd *c = &f.cmds[i];
        switch (c->kind) {
        case CONF_LOAD:
            run_load(o, &f, c, ms, &n);
            break;
        case CONF_CLEAR:
            conf_memstore_clear(ms);
            break;
        case CONF_EVAL_INSTANT: case CONF_EVAL_RANGE:
            run_eval(o, &f, c, a, conf_memstore_queryable(ms), &n);
            break;
        }
    }
    printf("%s: %ld passed, %ld failed, %ld skipped\n", f.name, n.passed, n.failed, n.skipped);
    total->passed += n.passed;
    total->failed += n.failed;
    total->skipped += n.skipped;
    conf_memstore_destroy(ms);
    scry_arena_destroy(a);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .test files of a folder, sorted; NULL when it cannot be read. */
static char **list_dir(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t cap = 32;
    char **v = malloc(cap * sizeof(char *));
    *n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".test") != 0)
            continue;
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof(char *));
        size_t plen = strlen(dir) + len + 2;
        v[*n] = malloc(plen);
        snprintf(v[(*n)++], plen, "%s/%s", dir, de->d_name);
    }
    closedir(d);
    qsort(v, *n, sizeof(char *), cmp_str);
    return v;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *default_tiers(const char *first_file)
{
    static char buf[4096];
    const char *slash = strrchr(first_file, '/');
    if (!slash)
        snprintf(buf, sizeof(buf), "../EVAL_TIERS.md");
    else
        snprintf(buf, sizeof(buf), "%.*s/../EVAL_TIERS.md", (int)(slash - first_file), first_file);
    return buf;
}

int main(int argc, char **argv)
{
    struct opts o = { .max_tier = "TX" };
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strcmp(argv[first], "--parse-only") == 0) {
            o.parse_only = true;
        } else if (strcmp(argv[first], "-v") == 0) {
            o.verbose = true;
        } else if (strcmp(argv[first], "--max-tier") == 0 && first + 1 < argc) {
            o.max_tier = argv[++first];
        } else if (strcmp(argv[first], "--must-pass") == 0 && first + 1 < argc) {
            o.must_pass = argv[++first];
        } else if (strcmp(argv[first], "--tiers") == 0 && first + 1 < argc) {
            o.tiers_path = argv[++first];
        } else {
            fprintf(stderr, "usage: %s [--parse-only] [--tiers EVAL_TIERS.md] [--max-tier T1|T2|T3|TX] [--must-pass T1|T2|T3] [-v] FILE.test...\n",
                    argv[0]);
            return 2;
        }
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [--parse-only] [--tiers EVAL_TIERS.md] [--max-tier T1|T2|T3|TX] [--must-pass T1|T2|T3] [-v] FILE.test...\n",
                argv[0]);
        return 2;
    }
    /* A folder argument means its *.test files. A folder that does not
     * exist (no conformance data checked out) skips the run: exit status 77
     * is meson's "skipped". */
    size_t n_files = 0, cap = 64;
    char **files = malloc(cap * sizeof(char *));
    for (int i = first; i < argc; i++) {
        size_t n = 0;
        char **v;
        if (is_dir(argv[i])) {
            v = list_dir(argv[i], &n);
        } else if (strstr(argv[i], ".test") == NULL) {
            printf("conformance data not found: %s (skipped)\n", argv[i]);
            for (size_t k = 0; k < n_files; k++)
                free(files[k]);
            free(files);
            return 77;
        } else {
            v = malloc(sizeof(char *));
            v[0] = strdup(argv[i]);
            n = 1;
        }
        for (size_t k = 0; k < n; k++) {
            if (n_files == cap)
                files = realloc(files, (cap *= 2) * sizeof(char *));
            files[n_files++] = v[k];
        }
        free(v);
    }
    load_tiers(&o, o.tiers_path ? o.tiers_path
                                : default_tiers(n_files ? files[0] : argv[first]));
    struct counts total = { 0 };
    for (size_t i = 0; i < n_files; i++) {
        run_file(&o, files[i], &total);
        free(files[i]);
    }
    free(files);
    if (!o.parse_only) {
        static const char *names[] = { "T1", "T2", "T3", "TX", "untiered" };
        for (int i = 0; i < 5; i++)
            if (tier_counts[i][0] + tier_counts[i][1] + tier_counts[i][2])
                printf("evals %s: %ld passed, %ld failed, %ld skipped\n", names[i],
                       tier_counts[i][0], tier_counts[i][1], tier_counts[i][2]);
    }
    printf("%ld passed, %ld failed, %ld skipped\n", total.passed, total.failed, total.skipped);
    for (size_t i = 0; i < o.n_tiers; i++) {
        free(o.tiers[i].key);
        free(o.tiers[i].tags);
    }
    free(o.tiers);
    return total.failed > 0 ? 1 : 0;
}
