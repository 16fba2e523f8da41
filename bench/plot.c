/* The SVG plot: see plot.h. Hand-written SVG (no library): two panels, each a frame with
 * labelled ticks and polylines. Log scales use 1-2-5 ticks per decade. */
#include "bench/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/hist.h"
#include "bench/result.h"

enum { W = 960, PANEL_H = 300, MARGIN_L = 80, MARGIN_R = 80, MARGIN_T = 50, GAP = 110 };

struct frame {
    double x0, y0, w, h; /* pixel box */
    double xmin, xmax;   /* data range; x is linear unless xlog */
    double ymin, ymax;   /* y is log10 when ylog */
    bool xlog, ylog;
};

static double fx(const struct frame *fr, double x)
{
    double a = fr->xlog ? log10(x) : x, lo = fr->xlog ? log10(fr->xmin) : fr->xmin;
    double hi = fr->xlog ? log10(fr->xmax) : fr->xmax;
    return fr->x0 + (hi > lo ? (a - lo) / (hi - lo) : 0) * fr->w;
}

static double fy(const struct frame *fr, double y)
{
    if (fr->ylog && y < fr->ymin)
        y = fr->ymin;
    double a = fr->ylog ? log10(y) : y, lo = fr->ylog ? log10(fr->ymin) : fr->ymin;
    double hi = fr->ylog ? log10(fr->ymax) : fr->ymax;
    return fr->y0 + fr->h - (hi > lo ? (a - lo) / (hi - lo) : 0) * fr->h;
}

/* A round step giving about `n` ticks over `span`. */
static double nice_step(double span, int n)
{
    double raw = span / n, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

static void fmt_num(char *out, size_t cap, double v)
{
    if (v != 0 && (fabs(v) < 0.01 || fabs(v) >= 1e6))
        snprintf(out, cap, "%.0e", v);
    else
        snprintf(out, cap, "%g", v);
}

static void draw_frame(FILE *f, const struct frame *fr, const char *title, const char *xlabel,
                       const char *ylabel)
{
    fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#fff' stroke='#444'/>\n",
            fr->x0, fr->y0, fr->w, fr->h);
    fprintf(f, "<text x='%.1f' y='%.1f' font-size='15' font-weight='bold'>%s</text>\n", fr->x0,
            fr->y0 - 12, title);
    fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle'>%s</text>\n", fr->x0 + fr->w / 2,
            fr->y0 + fr->h + 38, xlabel);
    fprintf(f,
            "<text transform='translate(%.1f,%.1f) rotate(-90)' text-anchor='middle'>%s</text>\n",
            fr->x0 - 58, fr->y0 + fr->h / 2, ylabel);
    char label[32];
    if (fr->ylog) {
        for (double dec = pow(10, floor(log10(fr->ymin))); dec <= fr->ymax; dec *= 10) {
            static const double steps[] = {1, 2, 5};
            for (int s = 0; s < 3; s++) {
                double v = dec * steps[s];
                if (v < fr->ymin || v > fr->ymax)
                    continue;
                double y = fy(fr, v);
                fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#ddd'/>\n",
                        fr->x0, fr->x0 + fr->w, y, y);
                fmt_num(label, sizeof label, v);
                fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='end'>%s</text>\n", fr->x0 - 6,
                        y + 4, label);
            }
        }
    } else {
        double step = nice_step(fr->ymax - fr->ymin, 5);
        for (double v = ceil(fr->ymin / step) * step; v <= fr->ymax + step / 1e6; v += step) {
            double y = fy(fr, v);
            fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#ddd'/>\n", fr->x0,
                    fr->x0 + fr->w, y, y);
            fmt_num(label, sizeof label, v);
            fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='end'>%s</text>\n", fr->x0 - 6, y + 4,
                    label);
        }
    }
    if (!fr->xlog) {
        double step = nice_step(fr->xmax - fr->xmin, 8);
        for (double v = ceil(fr->xmin / step) * step; v <= fr->xmax + step / 1e6; v += step) {
            double x = fx(fr, v);
            fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#eee'/>\n", x, x,
                    fr->y0, fr->y0 + fr->h);
            fmt_num(label, sizeof label, v);
            fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle'>%s</text>\n", x,
                    fr->y0 + fr->h + 18, label);
        }
    }
}

static void polyline(FILE *f, const struct frame *fr, const double *xs, const double *ys, size_t n,
                     const char *color, const char *dash)
{
    fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.8'%s%s%s points='", color,
            dash ? " stroke-dasharray='" : "", dash ? dash : "", dash ? "'" : "");
    for (size_t i = 0; i < n; i++) {
        if (ys[i] > 0 || !fr->ylog)
            fprintf(f, "%.1f,%.1f ", fx(fr, xs[i]), fy(fr, ys[i]));
    }
    fputs("'/>\n", f);
}

static void legend(FILE *f, double x, double y, const char *color, const char *dash,
                   const char *text)
{
    fprintf(f,
            "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s' stroke-width='2'%s%s%s/>\n",
            x, x + 24, y, y, color, dash ? " stroke-dasharray='" : "", dash ? dash : "",
            dash ? "'" : "");
    fprintf(f, "<text x='%.1f' y='%.1f'>%s</text>\n", x + 30, y + 4, text);
}

static void log_range(double lo, double hi, double *ymin, double *ymax)
{
    if (!(lo > 0))
        lo = 0.001;
    if (hi < lo * 10)
        hi = lo * 10;
    *ymin = pow(10, floor(log10(lo)));
    *ymax = pow(10, ceil(log10(hi)));
}

/* Panel 1: latency percentiles per slice over time, and the rate of samples (grey). */
static void panel_over_time(FILE *f, const struct bench_result *r, double top, bool latency)
{
    size_t n = r->slices_used ? r->slices_used : 1;
    double xs[BENCH_SLICES_MAX], p50[BENCH_SLICES_MAX], p99[BENCH_SLICES_MAX];
    double mx[BENCH_SLICES_MAX], rate[BENCH_SLICES_MAX];
    double slice_s = (double)r->slice_ns / 1e9, lo = INFINITY, hi = 0, rate_hi = 1;
    for (size_t i = 0; i < n; i++) {
        const struct bench_slice *s = &r->slices[i];
        xs[i] = (i + 0.5) * slice_s;
        p50[i] = (double)bench_slice_quantile(s, 0.5) / 1e6;
        p99[i] = (double)bench_slice_quantile(s, 0.99) / 1e6;
        mx[i] = (double)s->latency_max_ns / 1e6;
        rate[i] = (latency ? s->latency_count : s->ready) / slice_s;
        if (s->latency_count > 0 && p50[i] > 0 && p50[i] < lo)
            lo = p50[i];
        if (mx[i] > hi)
            hi = mx[i];
        if (rate[i] > rate_hi)
            rate_hi = rate[i];
    }
    struct frame fr = {MARGIN_L, top,    W - MARGIN_L - MARGIN_R, PANEL_H, 0, n * slice_s, 0, 1,
                       false,    latency};
    if (latency)
        log_range(lo, hi, &fr.ymin, &fr.ymax);
    else
        fr.ymax = rate_hi * 1.1;
    draw_frame(f, &fr,
               latency ? "Latency over time (per slice: p50, p99, max)"
                       : "Connections ready per second over time",
               "seconds since the start of the ramp", latency ? "latency (ms, log)" : "per second");
    if (latency) {
        /* Rate on a right-hand axis, linear, drawn first so the latencies sit on top. */
        struct frame rf = fr;
        rf.ylog = false;
        rf.ymin = 0;
        rf.ymax = rate_hi * 1.1;
        polyline(f, &rf, xs, rate, n, "#bbb", NULL);
        char label[32];
        fmt_num(label, sizeof label, rf.ymax);
        fprintf(f, "<text x='%.1f' y='%.1f' fill='#888'>%s/s</text>\n", fr.x0 + fr.w + 6, fr.y0 + 4,
                label);
        fprintf(f, "<text x='%.1f' y='%.1f' fill='#888'>0/s</text>\n", fr.x0 + fr.w + 6,
                fr.y0 + fr.h);
        polyline(f, &fr, xs, mx, n, "#d62728", "4,3");
        polyline(f, &fr, xs, p99, n, "#ff7f0e", NULL);
        polyline(f, &fr, xs, p50, n, "#1f77b4", NULL);
        legend(f, fr.x0 + 10, top + PANEL_H + 58, "#1f77b4", NULL, "p50");
        legend(f, fr.x0 + 90, top + PANEL_H + 58, "#ff7f0e", NULL, "p99");
        legend(f, fr.x0 + 170, top + PANEL_H + 58, "#d62728", "4,3", "max");
        legend(f, fr.x0 + 250, top + PANEL_H + 58, "#bbb", NULL,
               "messages received per second (right axis)");
    } else {
        polyline(f, &fr, xs, rate, n, "#1f77b4", NULL);
    }
}

/* Panel 2: the percentile spectrum of the whole histogram, x = 1/(1-q) on a log scale. */
static void panel_distribution(FILE *f, const struct hist *h, double top, const char *what)
{
    enum { POINTS = 120 };
    double xs[POINTS], ys[POINTS];
    double decades = h->count > 1 ? log10((double)h->count) : 1;
    if (decades > 6)
        decades = 6;
    if (decades < 1)
        decades = 1;
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < POINTS; i++) {
        double d = decades * i / (POINTS - 1);
        double q = 1 - pow(10, -d);
        xs[i] = pow(10, d);
        ys[i] = (double)hist_quantile(h, q) / 1e6;
        if (ys[i] > 0 && ys[i] < lo)
            lo = ys[i];
        if (ys[i] > hi)
            hi = ys[i];
    }
    struct frame fr = {MARGIN_L, top, W - MARGIN_L - MARGIN_R, PANEL_H, 1, pow(10, decades), 0, 1,
                       true,     true};
    log_range(lo, hi, &fr.ymin, &fr.ymax);
    char title[128];
    snprintf(title, sizeof title, "%s distribution (%llu samples)", what,
             (unsigned long long)h->count);
    draw_frame(f, &fr, title, "percentile", "latency (ms, log)");
    static const char *const names[] = {"0%",     "90%",     "99%",     "99.9%",
                                        "99.99%", "99.999%", "99.9999%"};
    for (int d = 0; d <= (int)decades; d++) {
        double x = fx(&fr, pow(10, d));
        fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#eee'/>\n", x, x, fr.y0,
                fr.y0 + fr.h);
        fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle'>%s</text>\n", x, fr.y0 + fr.h + 18,
                names[d]);
    }
    polyline(f, &fr, xs, ys, POINTS, "#1f77b4", NULL);
}

int bench_plot_svg(const char *path, const struct bench_result *r, const char *title,
                   char err[BENCH_ERROR_BYTES])
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, BENCH_ERROR_BYTES, "--plot %s: cannot create the file: %s", path,
                 strerror(errno));
        return -1;
    }
    bool latency = r->latency_ns.count > 0;
    int height = MARGIN_T + 2 * PANEL_H + 2 * GAP;
    fprintf(f,
            "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
            "viewBox='0 0 %d %d' font-family='sans-serif' font-size='12'>\n",
            W, height, W, height);
    fprintf(f, "<rect width='100%%' height='100%%' fill='#fafafa'/>\n");
    fprintf(f, "<text x='%d' y='24' font-size='16'>", MARGIN_L);
    for (const char *s = title; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
    fputs("</text>\n", f);
    panel_over_time(f, r, MARGIN_T + 20, latency);
    panel_distribution(f, latency ? &r->latency_ns : &r->connect_ns, MARGIN_T + PANEL_H + GAP + 20,
                       latency ? "Latency" : "Connect time");
    fputs("</svg>\n", f);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed) {
        snprintf(err, BENCH_ERROR_BYTES, "--plot %s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
