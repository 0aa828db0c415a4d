/* SPDX-License-Identifier: MIT */
/*
 * bench/svg.c - `shmipc bench --plot`: p50 one-way latency against payload size, log-log, one line per
 * mechanism, drawn as SVG by a small self-contained writer (no gnuplot or other external tool): axes with
 * decade / power-of-8 ticks and a grid, one polyline with point markers per mechanism, a legend.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define W 960
#define H 600
#define LEFT 90.0
#define RIGHT 210.0 /* room for the legend */
#define TOP 50.0
#define BOTTOM 60.0
#define MAX_LINES 64

/* Text content or attribute value with the five XML specials escaped. */
static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            /* Control characters are not allowed in XML 1.0: drop them. */
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, f);
        }
    }
}

static void fmt_bytes(char *buf, size_t cap, double v)
{
    if (v >= 1048576)
        snprintf(buf, cap, "%g MiB", v / 1048576);
    else if (v >= 1024)
        snprintf(buf, cap, "%g KiB", v / 1024);
    else
        snprintf(buf, cap, "%g B", v);
}

/* A log axis: [lo, hi] in log2 (x) or log10 (y) units, mapped onto [p0, p1] pixels. */
typedef struct axis {
    double lo, hi, p0, p1;
} axis;

static double map(const axis *a, double logv) { return a->p0 + (logv - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0); }

int bench_plot_svg(const char *svg_path, const bench_machine *m, const bench_result *r, size_t n)
{
    static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    static const char *const dashes[] = {"", "8,4", "2,3", "10,3,2,3"};
    const size_t ncol = sizeof colours / sizeof colours[0], ndash = sizeof dashes / sizeof dashes[0];
    /* The mechanisms with latency results, in the order they ran, and the data ranges. */
    const char *names[MAX_LINES];
    size_t nnames = 0;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (r[i].mode != BENCH_LATENCY || r[i].status != BENCH_OK || r[i].p50 == 0 || r[i].size == 0)
            continue;
        bool seen = false;
        for (size_t k = 0; k < nnames; k++)
            seen |= !strcmp(names[k], r[i].transport->name);
        if (!seen && nnames < MAX_LINES)
            names[nnames++] = r[i].transport->name;
        xmin = fmin(xmin, log2((double)r[i].size));
        xmax = fmax(xmax, log2((double)r[i].size));
        ymin = fmin(ymin, log10((double)r[i].p50));
        ymax = fmax(ymax, log10((double)r[i].p50));
    }
    FILE *f = fopen(svg_path, "w");
    if (!f)
        return -errno;
    /* Axis ranges: x to whole powers of 2 (at least one octave each side of a single size), y to whole
     * decades. */
    if (nnames == 0) {
        xmin = 3;
        xmax = 22;
        ymin = 1;
        ymax = 6;
    }
    xmin = floor(xmin);
    xmax = ceil(xmax);
    if (xmax - xmin < 2) {
        xmin -= 1;
        xmax += 1;
    }
    ymin = floor(ymin);
    ymax = ceil(ymax);
    if (ymax - ymin < 1)
        ymax = ymin + 1;
    axis ax = {xmin, xmax, LEFT, W - RIGHT}, ay = {ymin, ymax, H - BOTTOM, TOP};

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">p50 one-way latency (round trip / 2) - ",
            W / 2);
    xml_text(f, m->cpu_model);
    fprintf(f, ", %u CPUs, ", m->ncpus);
    xml_text(f, m->date);
    fprintf(f, "</text>\n");

    /* Grid and ticks. */
    fprintf(f, "<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
    for (double e = ymin; e <= ymax + 1e-9; e += 1)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", ax.p0, map(&ay, e), ax.p1, map(&ay, e));
    for (double e = ceil(xmin / 3) * 3; e <= xmax + 1e-9; e += 3)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", map(&ax, e), ay.p0, map(&ax, e), ay.p1);
    fprintf(f, "</g>\n<g text-anchor=\"end\">\n");
    for (double e = ymin; e <= ymax + 1e-9; e += 1) {
        char lab[32];
        bench_fmt_ns(lab, sizeof lab, pow(10, e));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", ax.p0 - 6, map(&ay, e) + 4);
        xml_text(f, lab);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n<g text-anchor=\"middle\">\n");
    for (double e = ceil(xmin / 3) * 3; e <= xmax + 1e-9; e += 3) {
        char lab[32];
        fmt_bytes(lab, sizeof lab, pow(2, e));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", map(&ax, e), ay.p0 + 18);
        xml_text(f, lab);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n");
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"black\"/>\n", ax.p0,
            ay.p1, ax.p1 - ax.p0, ay.p0 - ay.p1);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">payload size (log scale)</text>\n",
            (ax.p0 + ax.p1) / 2, H - 18);
    fprintf(f, "<text transform=\"translate(22 %.1f) rotate(-90)\" text-anchor=\"middle\">p50 latency (log scale)"
               "</text>\n",
            (ay.p0 + ay.p1) / 2);
    if (nnames == 0)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no latency results</text>\n",
                (ax.p0 + ax.p1) / 2, (ay.p0 + ay.p1) / 2);

    /* One line per mechanism, with its legend entry. */
    for (size_t k = 0; k < nnames; k++) {
        const char *col = colours[k % ncol], *dash = dashes[(k / ncol) % ndash];
        fprintf(f, "<g class=\"series\" stroke=\"%s\" fill=\"%s\">\n<title>", col, col);
        xml_text(f, names[k]);
        fprintf(f, "</title>\n<polyline fill=\"none\" stroke-width=\"2\"%s%s%s points=\"", *dash ? " stroke-dasharray=\"" : "",
                dash, *dash ? "\"" : "");
        for (size_t i = 0; i < n; i++)
            if (r[i].mode == BENCH_LATENCY && r[i].status == BENCH_OK && r[i].p50 && r[i].size &&
                !strcmp(r[i].transport->name, names[k]))
                fprintf(f, "%.1f,%.1f ", map(&ax, log2((double)r[i].size)), map(&ay, log10((double)r[i].p50)));
        fprintf(f, "\"/>\n");
        for (size_t i = 0; i < n; i++)
            if (r[i].mode == BENCH_LATENCY && r[i].status == BENCH_OK && r[i].p50 && r[i].size &&
                !strcmp(r[i].transport->name, names[k]))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>\n", map(&ax, log2((double)r[i].size)),
                        map(&ay, log10((double)r[i].p50)));
        double ly = TOP + 10 + 18.0 * (double)k, lx = W - RIGHT + 16;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke-width=\"2\"%s%s%s/>\n", lx, ly, lx + 28,
                ly, *dash ? " stroke-dasharray=\"" : "", dash, *dash ? "\"" : "");
        fprintf(f, "<text class=\"legend\" x=\"%.1f\" y=\"%.1f\" stroke=\"none\" fill=\"black\">", lx + 34, ly + 4);
        xml_text(f, names[k]);
        fprintf(f, "</text>\n</g>\n");
    }
    fprintf(f, "</svg>\n");
    int err = ferror(f) ? -EIO : 0;
    if (fclose(f) != 0 && !err)
        err = -errno;
    return err;
}
