/* Table-driven per-worker metric families: see metrics_family.h. */
#include "gateway/metrics_family.h"

#include "storage/pg_metrics.h"

void metrics_render_families(FILE *out, const struct metric_family *families, size_t family_count,
                             const void *const *structs, unsigned count)
{
    for (size_t i = 0; i < family_count; i++) {
        const struct metric_family *f = &families[i];
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
        for (unsigned w = 0; w < count; w++) {
            if (structs[w] == NULL)
                continue;
            const _Atomic uint64_t *m =
                (const _Atomic uint64_t *)((const char *)structs[w] + f->offset);
            fprintf(out, "%s{worker=\"%u\"} %llu\n", f->name, w,
                    (unsigned long long)pg_metric_get(m));
        }
    }
}

void metrics_render_pg_hist(FILE *out, const char *name, const char *help, double scale,
                            const void *const *structs, size_t hist_offset, unsigned count)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (unsigned w = 0; w < count; w++) {
        if (structs[w] == NULL)
            continue;
        const struct pg_hist *h = (const struct pg_hist *)((const char *)structs[w] + hist_offset);
        uint64_t cumulative = 0;
        for (uint32_t b = 0; b < h->bucket_count; b++) {
            cumulative += pg_metric_get(&h->buckets[b]);
            if (b + 1 < h->bucket_count)
                fprintf(out, "%s_bucket{worker=\"%u\",le=\"%g\"} %llu\n", name, w,
                        (double)h->bounds[b] * scale, (unsigned long long)cumulative);
            else
                fprintf(out, "%s_bucket{worker=\"%u\",le=\"+Inf\"} %llu\n", name, w,
                        (unsigned long long)cumulative);
        }
        fprintf(out, "%s_sum{worker=\"%u\"} %g\n", name, w, (double)pg_metric_get(&h->sum) * scale);
        fprintf(out, "%s_count{worker=\"%u\"} %llu\n", name, w,
                (unsigned long long)pg_metric_get(&h->count));
    }
}
