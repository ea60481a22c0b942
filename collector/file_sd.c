/* file_sd.c — file-based service discovery (Prometheus's discovery/file).
 *
 * A file holds a list of target groups, in JSON or YAML by its extension:
 *     [{"targets": ["10.0.0.1:9100"], "labels": {"env": "prod"}}]
 * Each group's labels get __meta_filepath. JSON ignores unknown keys and
 * YAML refuses them, as Prometheus's json.Unmarshal / yaml.UnmarshalStrict
 * do. Label names must be valid and values valid UTF-8.
 *
 * Prometheus watches with inotify and also re-reads every refresh_interval;
 * we only poll: every refresh_interval the patterns are globbed again and
 * each file's (device, inode, size, mtime in ns) compared with the last
 * read, so an unchanged file costs one stat. A file that fails to parse
 * keeps its last good groups (Prometheus keeps the old target groups too)
 * and the error is logged once per change. Each file's groups live in their
 * own arena, replaced whole when it is re-read. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/scrape_internal.h"
#include "core/json_read.h"
#include "core/mem.h"
#include "core/yaml.h"

#define FILE_SD_MAX_BYTES (64u << 20)

/* ---- parsing ------------------------------------------------------------ */

static int finish_group(struct scry_arena *a, const char *path, struct scry_labels_builder *b,
                        struct col__tgroup *g, struct scry_err *err)
{
    struct scry_labels cur = { b->v, b->n };
    for (size_t i = 0; i < cur.n; i++) {
        if (!scry_label_name_valid(cur.v[i].name, strlen(cur.v[i].name)))
            return scry_err_set(err, SCRY_EINVAL, "\"%s\" is not a valid label name",
                                cur.v[i].name);
        if (!scry_utf8_valid(cur.v[i].value, strlen(cur.v[i].value)))
            return scry_err_set(err, SCRY_EINVAL, "invalid label value for \"%s\"",
                                cur.v[i].name);
    }
    scry_labels_builder_set(b, "__meta_filepath", path);
    g->labels = scry_labels_builder_labels(b);
    (void)a;
    return 0;
}

static int parse_json(struct scry_arena *a, const char *path, const char *data, size_t len,
                      struct col__tgroup **out, size_t *n, struct scry_err *err)
{
    struct scry_jval *root;
    int rc = scry_json_parse(a, data, len, &(struct scry_json_parse_opts){ .max_depth = 16 },
                             &root, err);
    if (rc)
        return rc;
    if (root->type != SCRY_JSON_ARRAY)
        return scry_err_set(err, SCRY_EINVAL, "expected a list of target groups");
    struct col__tgroup *g = scry_arena_calloc(a, root->n ? root->n : 1, sizeof *g);
    for (size_t i = 0; i < root->n; i++) {
        const struct scry_jval *e = &root->u.arr[i];
        if (e->type == SCRY_JSON_NULL)
            return scry_err_set(err, SCRY_EINVAL, "nil target group item found (index %zu)", i);
        if (e->type != SCRY_JSON_OBJECT)
            return scry_err_set(err, SCRY_EINVAL, "target group %zu: expected an object", i);
        const struct scry_jval *t = scry_jval_get(e, "targets");
        const struct scry_jval *l = scry_jval_get(e, "labels");
        if (t && t->type != SCRY_JSON_ARRAY && t->type != SCRY_JSON_NULL)
            return scry_err_set(err, SCRY_EINVAL, "target group %zu: targets: expected a list", i);
        if (l && l->type != SCRY_JSON_OBJECT && l->type != SCRY_JSON_NULL)
            return scry_err_set(err, SCRY_EINVAL, "target group %zu: labels: expected an object", i);
        size_t nt = scry_jval_len(t);
        g[i].targets = scry_arena_calloc(a, nt ? nt : 1, sizeof *g[i].targets);
        for (size_t k = 0; k < nt; k++) {
            struct scry_str s;
            if (scry_jval_str(&t->u.arr[k], &s) != 0)
                return scry_err_set(err, SCRY_EINVAL, "target group %zu: targets[%zu]: expected a string", i, k);
            g[i].targets[k] = s.p;
        }
        g[i].n_targets = nt;
        struct scry_labels_builder b;
        scry_labels_builder_init(&b, a);
        for (size_t k = 0; k < scry_jval_len(l); k++) {
            struct scry_str v;
            if (scry_jval_str(&l->u.obj[k].val, &v) != 0)
                return scry_err_set(err, SCRY_EINVAL, "target group %zu: label \"%s\": expected a string",
                                    i, l->u.obj[k].key.p);
            if (strlen(l->u.obj[k].key.p) != l->u.obj[k].key.len || strlen(v.p) != v.len)
                return scry_err_set(err, SCRY_EINVAL, "target group %zu: NUL byte in a label", i);
            if (!scry_label_name_valid(l->u.obj[k].key.p, l->u.obj[k].key.len))
                return scry_err_set(err, SCRY_EINVAL, "\"%s\" is not a valid label name",
                                    l->u.obj[k].key.p);
            scry_labels_builder_set(&b, l->u.obj[k].key.p, v.p);
        }
        rc = finish_group(a, path, &b, &g[i], err);
        if (rc)
            return rc;
    }
    *out = g;
    *n = root->n;
    return 0;
}

static bool is_scalar(const struct scry_yaml_node *x)
{
    return x && x->kind == SCRY_YAML_SCALAR;
}

static int parse_yaml(struct scry_arena *a, const char *path, const char *data, size_t len,
                      struct col__tgroup **out, size_t *n, struct scry_err *err)
{
    struct scry_yaml_node *root = NULL;
    int rc = scry__yaml_parse(a, path, data, len, &root, err);
    if (rc)
        return rc;
    *out = NULL;
    *n = 0;
    if (!root || scry__yaml_is_null(root))
        return 0;
    if (root->kind != SCRY_YAML_SEQ)
        return scry_err_set(err, SCRY_EINVAL, "%d:%d: expected a list of target groups",
                            root->line, root->col);
    struct col__tgroup *g = scry_arena_calloc(a, root->n ? root->n : 1, sizeof *g);
    for (size_t i = 0; i < root->n; i++) {
        const struct scry_yaml_node *e = root->kids[i];
        if (scry__yaml_is_null(e))
            return scry_err_set(err, SCRY_EINVAL, "nil target group item found (index %zu)", i);
        if (e->kind != SCRY_YAML_MAP)
            return scry_err_set(err, SCRY_EINVAL, "%d:%d: expected a mapping", e->line, e->col);
        struct scry_labels_builder b;
        scry_labels_builder_init(&b, a);
        for (size_t k = 0; k < e->n; k++) {
            const struct scry_yaml_node *key = e->kids[2 * k], *val = e->kids[2 * k + 1];
            if (!is_scalar(key))
                return scry_err_set(err, SCRY_EINVAL, "%d:%d: expected a key", key->line, key->col);
            if (strcmp(key->s, "targets") == 0) {
                if (scry__yaml_is_null(val))
                    continue;
                if (val->kind != SCRY_YAML_SEQ)
                    return scry_err_set(err, SCRY_EINVAL, "%d:%d: targets: expected a list",
                                        val->line, val->col);
                g[i].targets = scry_arena_calloc(a, val->n ? val->n : 1, sizeof *g[i].targets);
                for (size_t j = 0; j < val->n; j++) {
                    if (!is_scalar(val->kids[j]))
                        return scry_err_set(err, SCRY_EINVAL, "%d:%d: expected a string",
                                            val->kids[j]->line, val->kids[j]->col);
                    g[i].targets[j] = val->kids[j]->s;
                }
                g[i].n_targets = val->n;
            } else if (strcmp(key->s, "labels") == 0) {
                if (scry__yaml_is_null(val))
                    continue;
                if (val->kind != SCRY_YAML_MAP)
                    return scry_err_set(err, SCRY_EINVAL, "%d:%d: labels: expected a mapping",
                                        val->line, val->col);
                for (size_t j = 0; j < val->n; j++) {
                    const struct scry_yaml_node *lk = val->kids[2 * j], *lv = val->kids[2 * j + 1];
                    if (!is_scalar(lk) || !is_scalar(lv))
                        return scry_err_set(err, SCRY_EINVAL, "%d:%d: expected a string label",
                                            lk->line, lk->col);
                    if (!scry_label_name_valid(lk->s, lk->len))
                        return scry_err_set(err, SCRY_EINVAL, "\"%s\" is not a valid label name",
                                            lk->s);
                    if (strlen(lv->s) != lv->len)
                        return scry_err_set(err, SCRY_EINVAL, "NUL byte in label \"%s\"", lk->s);
                    scry_labels_builder_set(&b, lk->s, lv->s);
                }
            } else {
                return scry_err_set(err, SCRY_EINVAL, "%d:%d: field %s not found in type targetgroup",
                                    key->line, key->col, key->s);
            }
        }
        rc = finish_group(a, path, &b, &g[i], err);
        if (rc)
            return rc;
    }
    *out = g;
    *n = root->n;
    return 0;
}

int col__file_sd_parse(struct scry_arena *a, const char *path, const char *data, size_t len,
                       bool yaml, struct col__tgroup **out, size_t *n, struct scry_err *err)
{
    *out = NULL;
    *n = 0;
    int rc = yaml ? parse_yaml(a, path, data, len, out, n, err)
                  : parse_json(a, path, data, len, out, n, err);
    if (rc)
        scry_err_prefix(err, "%s", path);
    return rc;
}

/* ---- polling ------------------------------------------------------------ */

struct sd_file {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    struct scry_arena *a;
    struct col__tgroup *g;
    size_t n;
};

struct col__file_sd {
    char **patterns;
    size_t n_patterns;
    struct sd_file *f;
    size_t n;
    bool refreshed;
};

struct col__file_sd *col__file_sd_create(const struct scry_file_sd_config *cfg)
{
    struct col__file_sd *fs = scry_calloc(1, sizeof *fs);
    fs->patterns = scry_calloc(cfg->n_files ? cfg->n_files : 1, sizeof *fs->patterns);
    for (size_t i = 0; i < cfg->n_files; i++)
        fs->patterns[i] = scry_strdup(cfg->files[i]);
    fs->n_patterns = cfg->n_files;
    return fs;
}

static void file_free(struct sd_file *f)
{
    free(f->path);
    scry_arena_destroy(f->a);
}

void col__file_sd_destroy(struct col__file_sd *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; i < fs->n_patterns; i++)
        free(fs->patterns[i]);
    free(fs->patterns);
    for (size_t i = 0; i < fs->n; i++)
        file_free(&fs->f[i]);
    free(fs->f);
    free(fs);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

/* Reads and parses f->path. Returns 0 on success (groups replaced). */
static int read_file(struct sd_file *f, struct scry_err *err)
{
    FILE *fp = fopen(f->path, "rb");
    if (!fp)
        return scry_err_sys(err, SCRY_EIO, "open %s", f->path);
    struct scry_buf b = { 0 };
    char chunk[16384];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (b.len + n > FILE_SD_MAX_BYTES) {
            rc = scry_err_set(err, SCRY_ELIMIT, "%s: larger than %u bytes", f->path,
                              FILE_SD_MAX_BYTES);
            break;
        }
        scry_buf_put(&b, chunk, n);
    }
    if (rc == 0 && ferror(fp))
        rc = scry_err_sys(err, SCRY_EIO, "read %s", f->path);
    fclose(fp);
    if (rc == 0) {
        struct scry_arena *a = scry_arena_create(0);
        struct col__tgroup *g;
        size_t ng;
        rc = col__file_sd_parse(a, f->path, b.p ? b.p : "", b.len, !has_suffix(f->path, ".json"),
                                &g, &ng, err);
        if (rc == 0) {
            scry_arena_destroy(f->a);
            f->a = a;
            f->g = g;
            f->n = ng;
        } else {
            scry_arena_destroy(a);
        }
    }
    scry_buf_fini(&b);
    return rc;
}

bool col__file_sd_refresh(struct col__file_sd *fs, struct scry_log *log, const char *job)
{
    bool changed = !fs->refreshed;
    fs->refreshed = true;
    struct sd_file *nf = NULL;
    size_t n = 0, cap = 0;
    for (size_t p = 0; p < fs->n_patterns; p++) {
        glob_t gl;
        if (glob(fs->patterns[p], 0, NULL, &gl) != 0)
            continue;
        for (size_t i = 0; i < gl.gl_pathc; i++) {
            const char *path = gl.gl_pathv[i];
            bool dup = false;
            for (size_t k = 0; k < n; k++)
                dup |= strcmp(nf[k].path, path) == 0;
            if (dup)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                nf = scry_realloc(nf, cap * sizeof *nf);
            }
            struct sd_file *f = &nf[n++];
            *f = (struct sd_file){ .path = scry_strdup(path) };
            for (size_t k = 0; k < fs->n; k++) {
                if (fs->f[k].path && strcmp(fs->f[k].path, path) == 0) {
                    free(f->path);
                    *f = fs->f[k]; /* take over its groups and stamps */
                    fs->f[k].path = NULL;
                    fs->f[k].a = NULL;
                    break;
                }
            }
        }
        globfree(&gl);
    }
    for (size_t k = 0; k < fs->n; k++) {
        if (fs->f[k].path) {
            changed = true; /* a file went away */
            file_free(&fs->f[k]);
        }
    }
    free(fs->f);
    fs->f = nf;
    fs->n = n;

    for (size_t i = 0; i < n; i++) {
        struct sd_file *f = &nf[i];
        struct stat st;
        if (stat(f->path, &st) != 0)
            continue;
        int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if (f->a && st.st_dev == f->dev && st.st_ino == f->ino && st.st_size == f->size &&
            mt == f->mtime_ns)
            continue;
        bool had = f->a != NULL;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->size = st.st_size;
        f->mtime_ns = mt;
        struct scry_err err = { 0 };
        if (read_file(f, &err) == 0) {
            changed = true;
        } else {
            if (!had)
                f->a = scry_arena_create(256); /* stamp kept: retried on the next change */
            /* The stamp is new, so this logs once per change of the file. */
            if (log)
                SCRY_LOG(log, SCRY_LOG_ERROR, "scrape", "file_sd: cannot read target groups",
                         "job", job, "err", err.msg);
        }
    }
    return changed;
}

size_t col__file_sd_n_files(const struct col__file_sd *fs)
{
    return fs->n;
}

size_t col__file_sd_groups(const struct col__file_sd *fs, const struct col__tgroup **out,
                           size_t i_file)
{
    *out = fs->f[i_file].g;
    return fs->f[i_file].g ? fs->f[i_file].n : 0;
}
