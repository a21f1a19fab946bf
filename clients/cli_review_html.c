/*  cli_review_html: the period review as one self-contained HTML page.

    Everything is inline: the style sheet and the burn-up chart (SVG), no
    script, no font or image fetched, so the file can be mailed, opened
    from disk on a machine with no network, and printed to PDF from any
    browser (the @media print rules keep sections and rows whole, repeat
    table headings on each page and keep the status colours).

    The chart: the scope's cumulative actual by day (solid) against the
    pace line (dotted: the target spread over the working days), the
    floor, target and stretch tiers (horizontal), and, while the period
    runs, the forecast from now to its end (dashed). Days off are shaded. */

#include "clients/cli_review.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clients/cli_figure.h"

#define CHART_W      960.0
#define CHART_H      340.0
#define CHART_LEFT   78.0
#define CHART_RIGHT  130.0
#define CHART_TOP    28.0
#define CHART_BOTTOM 34.0

static const char STYLE[] =
    ":root{--ink:#1f2328;--muted:#656d76;--line:#d0d7de;--soft:#f6f8fa;--blue:#1f6feb;"
    "--green:#1a7f37;--amber:#bf8700;--red:#cf222e;--teal:#0b7285}\n"
    "*{box-sizing:border-box}\n"
    "body{font:14px/1.45 -apple-system,'Segoe UI','Noto Sans','Noto Sans CJK SC','PingFang "
    "SC','Microsoft YaHei',sans-serif;color:var(--ink);margin:0 auto;max-width:1100px;"
    "padding:24px}\n"
    "h1{font-size:24px;margin:0}h1 small{font-weight:400;color:var(--muted)}\n"
    "h2{font-size:17px;margin:28px 0 6px;padding-bottom:4px;border-bottom:1px solid "
    "var(--line)}\n"
    ".sub{font-size:16px;margin:4px 0}.meta,.note,footer{color:var(--muted);font-size:12.5px}\n"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:10px;"
    "margin:18px 0}\n"
    ".card{border:1px solid var(--line);border-left:5px solid var(--line);border-radius:6px;"
    "padding:8px 12px}\n"
    ".card .label{color:var(--muted);font-size:12px;text-transform:uppercase;"
    "letter-spacing:.04em}\n"
    ".card .value{font-size:16px;font-weight:600;font-variant-numeric:tabular-nums}\n"
    ".card .detail{color:var(--muted);font-size:12px}\n"
    "table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}\n"
    "th,td{padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top;"
    "white-space:nowrap}\n"
    "td.w{white-space:normal;min-width:9em;overflow-wrap:anywhere}\n"
    "th{font-size:11.5px;color:var(--muted);text-align:left;font-weight:600;"
    "text-transform:uppercase;letter-spacing:.03em;background:var(--soft)}\n"
    ".r{text-align:right;white-space:nowrap}\n"
    ".att{white-space:nowrap;min-width:170px}\n"
    ".bar{display:inline-block;position:relative;width:110px;height:10px;background:#eaeef2;"
    "border-radius:5px;vertical-align:middle;margin-right:6px}\n"
    ".fill{position:absolute;left:0;top:0;bottom:0;border-radius:5px;background:var(--blue)}\n"
    ".mark{position:absolute;top:-3px;bottom:-3px;width:2px;background:var(--ink)}\n"
    ".pct{display:inline-block;min-width:44px;text-align:right}\n"
    ".tone-on_track,.tone-achieved{color:var(--green)}.tone-stretch_achieved{color:var(--teal);"
    "font-weight:600}\n"
    ".tone-at_risk,.tone-warning{color:var(--amber)}.tone-behind,.tone-critical{color:"
    "var(--red)}\n"
    ".tone-info{color:var(--blue)}.tone-none{color:var(--muted)}\n"
    ".fill.tone-on_track,.fill.tone-achieved{background:var(--green)}.fill.tone-stretch_"
    "achieved{background:var(--teal)}\n"
    ".fill.tone-at_risk{background:var(--amber)}.fill.tone-behind{background:var(--red)}\n"
    ".card.tone-on_track,.card.tone-achieved{border-left-color:var(--green)}.card.tone-"
    "stretch_achieved{border-left-color:var(--teal)}\n"
    ".card.tone-at_risk{border-left-color:var(--amber)}.card.tone-behind{border-left-color:"
    "var(--red)}\n"
    ".card .value.tone-on_track,.card .value.tone-behind,.card .value.tone-at_risk{color:"
    "inherit}\n"
    "svg{width:100%;height:auto;display:block}svg text{font-size:11px;fill:var(--muted)}\n"
    "details{margin-top:6px}summary{cursor:pointer;color:var(--muted)}\n"
    ".empty{color:var(--muted);font-style:italic}\n"
    "@media (max-width:640px){body{padding:10px}.att{min-width:0}.bar{width:60px}"
    "th,td{padding:3px 4px}}\n"
    "@page{size:A4;margin:14mm 12mm}\n"
    "@media print{body{max-width:none;padding:0;font-size:10.5pt}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "section{break-inside:avoid-page}h2{break-after:avoid}thead{display:table-header-group}"
    "tr{break-inside:avoid}details{display:none}.cards{grid-template-columns:repeat(4,1fr)}}\n";

static void
esc(FILE *out, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\n': /* a cell of several lines: a timeline */
            fputs("<br>", out);
            break;
        default:
            fputc(*s, out);
        }
}

static void
cell_html(FILE *out, const review_table_t *t, const review_cell_t *c, size_t col)
{
    const char *tone = review_tone(c->tone);
    if (!isnan(c->bar)) {
        double w = c->bar < 0 ? 0 : c->bar > 1 ? 100 : c->bar * 100;
        fputs("<td class=\"att\"><span class=\"bar\">", out);
        fprintf(out, "<span class=\"fill%s%s\" style=\"width:%.1f%%\"></span>",
                tone ? " tone-" : "", tone ? tone : "", w);
        if (!isnan(c->marker) && c->marker > 0 && c->marker <= 1)
            fprintf(out, "<span class=\"mark\" style=\"left:%.1f%%\" title=\"pace\"></span>",
                    c->marker * 100);
        fputs("</span><span class=\"pct\">", out);
        esc(out, c->text);
        fputs("</span></td>", out);
        return;
    }
    fprintf(out, "<td%s>",
            t->align[col] == 'r'   ? " class=\"r\""
            : t->align[col] == 'w' ? " class=\"w\""
                                   : "");
    if (tone)
        fprintf(out, "<span class=\"tone-%s\">", tone);
    esc(out, c->text);
    if (tone)
        fputs("</span>", out);
    fputs("</td>", out);
}

static void
table_html(FILE *out, const review_table_t *t)
{
    fputs("<table><thead><tr>", out);
    for (size_t c = 0; c < t->ncols; c++) {
        fprintf(out, "<th%s>", t->align[c] == 'r' ? " class=\"r\"" : "");
        esc(out, t->names[c]);
        fputs("</th>", out);
    }
    fputs("</tr></thead><tbody>\n", out);
    for (size_t k = 0; k < t->ncells; k++) {
        if (k % t->ncols == 0)
            fputs("<tr>", out);
        cell_html(out, t, &t->cells[k], k % t->ncols);
        if ((k + 1) % t->ncols == 0)
            fputs("</tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
}

/* ---------------------------------------------------------------------
   The burn-up chart */

typedef struct {
    const review_t *r;
    double ymax, plot_w, plot_h;
} chart_ctx_t;

/* x of the end of day i (-1: the period's start). */
static double
cx(const chart_ctx_t *c, double i)
{
    return CHART_LEFT + (i + 1) / (double)c->r->chart.ndays * c->plot_w;
}

static double
cy(const chart_ctx_t *c, double v)
{
    double y = CHART_TOP + c->plot_h - v / c->ymax * c->plot_h;
    return y < CHART_TOP - 4 ? CHART_TOP - 4 : y;
}

static void
tier_line(FILE *out, const chart_ctx_t *c, int64_t v, const char *name, const char *colour)
{
    char label[64];
    cli_figure_short((double)v, c->r->metric, c->r->currency, label, sizeof label);
    double y = cy(c, (double)v);
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"1.2\" stroke-dasharray=\"8 3\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" style=\"fill:%s\">%s %s</text>\n",
            CHART_LEFT, y, CHART_LEFT + c->plot_w, y, colour, CHART_LEFT + c->plot_w + 6, y + 4,
            colour, name, label);
}

static void
chart_html(FILE *out, const review_t *r)
{
    const review_chart_t *ch = &r->chart;
    chart_ctx_t c = {r, 0, CHART_W - CHART_LEFT - CHART_RIGHT, CHART_H - CHART_TOP - CHART_BOTTOM};
    for (size_t i = 0; i < ch->shown; i++)
        c.ymax = fmax(c.ymax, (double)ch->cumulative[i]);
    if (ch->has_target)
        c.ymax = fmax(c.ymax, (double)ch->target);
    if (ch->has_stretch)
        c.ymax = fmax(c.ymax, (double)ch->stretch);
    if (ch->has_forecast && ch->shown < ch->ndays)
        c.ymax = fmax(c.ymax, (double)ch->forecast);
    /* a round step between grid lines: 1, 2, 2.5 or 5 x 10^k in the
       figure's own units, four or five of them up to the top */
    double per_unit = cli_figure_scaled(1, r->metric, r->currency);
    double raw = (c.ymax > 0 ? c.ymax : 1) * per_unit / 4;
    double magnitude = pow(10, floor(log10(raw))), step = 10 * magnitude;
    static const double nice[] = {1, 2, 2.5, 5};
    for (int k = 3; k >= 0; k--)
        if (nice[k] * magnitude >= raw)
            step = nice[k] * magnitude;
    step /= per_unit;
    c.ymax = step * ceil((c.ymax > 0 ? c.ymax : 1) * 1.02 / step);

    fprintf(out,
            "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"burn-up chart\" "
            "xmlns=\"http://www.w3.org/2000/svg\">\n",
            CHART_W, CHART_H);
    /* days off, and the grid with its labels */
    for (size_t i = 0; i < ch->ndays; i++)
        if (!ch->working[i])
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                    "fill=\"#f3f4f6\"/>\n",
                    cx(&c, (double)i - 1), CHART_TOP, c.plot_w / (double)ch->ndays, c.plot_h);
    for (int g = 0; g * step <= c.ymax * 1.0001 && g <= 12; g++) {
        double v = g * step, y = cy(&c, v);
        char label[64];
        cli_figure_short(v, r->metric, r->currency, label, sizeof label);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e7eb\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                CHART_LEFT, y, CHART_LEFT + c.plot_w, y, CHART_LEFT - 6, y + 4, label);
    }
    size_t every = ch->ndays > 10 ? (ch->ndays + 9) / 10 : 1;
    for (size_t i = 0; i < ch->ndays; i += every)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.5s</text>\n",
                cx(&c, (double)i - 0.5), CHART_H - 12, ch->dates[i] + 5);
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#8c959f\"/>\n",
            CHART_LEFT, CHART_TOP + c.plot_h, CHART_LEFT + c.plot_w, CHART_TOP + c.plot_h);

    if (ch->has_floor)
        tier_line(out, &c, ch->floor, "floor", "#bc4c00");
    if (ch->has_target)
        tier_line(out, &c, ch->target, "target", "#0969da");
    if (ch->has_stretch)
        tier_line(out, &c, ch->stretch, "stretch", "#1a7f37");
    if (ch->has_target) {
        fprintf(out, "<polyline fill=\"none\" stroke=\"#8c959f\" stroke-width=\"1.5\" "
                     "stroke-dasharray=\"2 3\" points=\"");
        fprintf(out, "%.1f,%.1f", cx(&c, -1), cy(&c, 0));
        for (size_t i = 0; i < ch->ndays; i++)
            fprintf(out, " %.1f,%.1f", cx(&c, (double)i), cy(&c, (double)ch->expected[i]));
        fputs("\"/>\n", out);
    }
    if (ch->shown) {
        fputs("<polygon fill=\"#1f6feb\" fill-opacity=\".08\" points=\"", out);
        fprintf(out, "%.1f,%.1f", cx(&c, -1), cy(&c, 0));
        for (size_t i = 0; i < ch->shown; i++)
            fprintf(out, " %.1f,%.1f", cx(&c, (double)i), cy(&c, (double)ch->cumulative[i]));
        fprintf(out, " %.1f,%.1f\"/>\n", cx(&c, (double)ch->shown - 1), cy(&c, 0));
        fputs("<polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2.5\" "
              "stroke-linejoin=\"round\" points=\"",
              out);
        fprintf(out, "%.1f,%.1f", cx(&c, -1), cy(&c, 0));
        for (size_t i = 0; i < ch->shown; i++)
            fprintf(out, " %.1f,%.1f", cx(&c, (double)i), cy(&c, (double)ch->cumulative[i]));
        fputs("\"/>\n", out);
        double lx = cx(&c, (double)ch->shown - 1),
               ly = cy(&c, (double)ch->cumulative[ch->shown - 1]);
        if (ch->has_forecast && ch->shown < ch->ndays) {
            fprintf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1f6feb\" "
                    "stroke-width=\"2\" stroke-dasharray=\"7 5\"/>\n",
                    lx, ly, cx(&c, (double)ch->ndays - 1), cy(&c, (double)ch->forecast));
            fprintf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#8c959f\" "
                    "stroke-dasharray=\"1 3\"/><text x=\"%.1f\" y=\"%.1f\" "
                    "text-anchor=\"middle\">now</text>\n",
                    lx, CHART_TOP, lx, CHART_TOP + c.plot_h, lx, CHART_TOP - 8);
        }
        fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#1f6feb\"/>\n", lx, ly);
    }
    /* legend */
    fprintf(out,
            "<g transform=\"translate(%.0f,14)\"><line x1=\"0\" y1=\"0\" x2=\"22\" y2=\"0\" "
            "stroke=\"#1f6feb\" stroke-width=\"2.5\"/><text x=\"27\" y=\"4\">actual</text>"
            "<line x1=\"80\" y1=\"0\" x2=\"102\" y2=\"0\" stroke=\"#8c959f\" stroke-width=\"1.5\" "
            "stroke-dasharray=\"2 3\"/><text x=\"107\" y=\"4\">pace</text>"
            "<line x1=\"150\" y1=\"0\" x2=\"172\" y2=\"0\" stroke=\"#1f6feb\" stroke-width=\"2\" "
            "stroke-dasharray=\"7 5\"/><text x=\"177\" y=\"4\">forecast</text>"
            "<rect x=\"240\" y=\"-5\" width=\"14\" height=\"10\" fill=\"#f3f4f6\" "
            "stroke=\"#e5e7eb\"/><text x=\"259\" y=\"4\">day off</text></g>\n",
            CHART_LEFT);
    fputs("</svg>\n", out);
}

int
review_render_html(const review_t *r, FILE *out)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>",
          out);
    fputs("Period review: ", out);
    esc(out, r->path);
    fprintf(out, " %s %s</title>\n<style>\n%s</style></head><body>\n", r->metric, r->period, STYLE);
    fputs("<header><h1>Period review <small>复盘</small></h1><p class=\"sub\"><b>", out);
    esc(out, r->name[0] ? r->name : r->scope);
    fputs("</b> (", out);
    esc(out, r->path);
    fputs(") &middot; ", out);
    esc(out, r->metric);
    fputs(" &middot; ", out);
    esc(out, r->period);
    fputs("</p><p class=\"meta\">", out);
    esc(out, r->range);
    fputs(" &middot; figures as of ", out);
    esc(out, r->now_text);
    fprintf(out, " (log seq %lld) &middot; times in ", (long long)r->seq);
    esc(out, r->zone);
    fputs(" &middot; made ", out);
    esc(out, r->generated);
    fputs("</p></header>\n<section class=\"cards\">\n", out);
    for (size_t i = 0; i < r->ncards; i++) {
        const char *tone = review_tone(r->cards[i].tone);
        fprintf(out, "<div class=\"card%s%s\"><div class=\"label\">", tone ? " tone-" : "",
                tone ? tone : "");
        esc(out, r->cards[i].label);
        fprintf(out, "</div><div class=\"value%s%s\">", tone ? " tone-" : "", tone ? tone : "");
        esc(out, r->cards[i].value);
        fputs("</div><div class=\"detail\">", out);
        esc(out, r->cards[i].detail);
        fputs("</div></div>\n", out);
    }
    fputs("</section>\n", out);
    for (size_t i = 0; i < r->ntables; i++) {
        const review_table_t *t = r->tables[i];
        bool burnup = strcmp(t->id, "burnup") == 0;
        fprintf(out, "<section id=\"%s\"><h2>", t->id);
        esc(out, t->title);
        fputs("</h2>\n", out);
        if (t->note) {
            fputs("<p class=\"note\">", out);
            esc(out, t->note);
            fputs("</p>\n", out);
        }
        if (burnup && r->chart.ndays) {
            chart_html(out, r);
            fputs("<details><summary>Day by day</summary>\n", out);
        }
        if (review_table_rows(t))
            table_html(out, t);
        else if (!burnup)
            fputs("<p class=\"empty\">None.</p>\n", out);
        if (burnup && r->chart.ndays)
            fputs("</details>\n", out);
        fputs("</section>\n", out);
    }
    fputs("<footer><p>Made by <code>pacer report</code> from pacerd's log; every figure can be "
          "read again with <code>pacer progress</code>, <code>pacer alerts</code> and "
          "<code>pacer target history</code>.</p></footer>\n</body></html>\n",
          out);
    return ferror(out) ? -1 : 0;
}
