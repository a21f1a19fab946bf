/*  cli_target: `pacer target set|adjust|allocate|history`, targets and their audit trail.

    set and adjust build one target_set or target_adjusted event from the
    options and append it with libpacer (docs/EVENTS.md, "Targets").
    allocate sends the `allocate` operation, to the append endpoint to
    commit or to the query endpoint with --preview, and prints the split.
    history sends `target_history` and prints who changed the key, when,
    why, and what each tier was before and after (docs/PROTOCOL.md,
    "Targets and progress"). Both print tiers in the metric's unit as people
    read it (money in major units with the target's currency, which the
    reply names), or with --raw as pacerd counts them; the tiers given to
    set and adjust are pacerd's integers (minor units).

    Ids. An event id is what makes a retry harmless: the same id and
    content come back as a duplicate. The default id is built from the key
    and the event's time, `target:<scope>:<metric>:<period>:<line>:<ms>`
    (`adjust:` and `alloc:` for the others, `*` for all product lines), so
    running the same command again with the same --at is a duplicate rather
    than a second change. Without --at the time is now, and each run is a
    new change. An id over the protocol's 64 bytes keeps its prefix and
    time and replaces the key with a BLAKE2b digest of it. */

#include "clients/cli_commands.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clients/cli_json.h"
#include "clients/cli_options.h"
#include "clients/cli_request.h"
#include "clients/cli_table.h"
#include "clients/cli_time.h"
#include "clients/libpacer.h"

#define TARGET_ID_MAX   64
#define TARGET_TIER_MAX (INT64_C(1) << 62)
#define TARGET_NAME_MAX 32

typedef enum { TARGET_SET, TARGET_ADJUST, TARGET_ALLOCATE, TARGET_HISTORY } target_sub_t;

/* Every option of every subcommand; `given` says which were on the line. */
enum {
    OPT_SCOPE = CLI_OPT_FIRST_OWN,
    OPT_METRIC,
    OPT_PERIOD,
    OPT_PRODUCT_LINE,
    OPT_TARGET,
    OPT_FLOOR,
    OPT_STRETCH,
    OPT_CURRENCY,
    OPT_AUTHOR,
    OPT_REASON,
    OPT_ID,
    OPT_AT,
    OPT_METHOD,
    OPT_WEIGHTS,
    OPT_HISTORY_PERIODS,
    OPT_PREVIEW,
    OPT_JSON,
    OPT_END
};

#define BIT(opt) (UINT64_C(1) << ((opt)-CLI_OPT_FIRST_OWN))

static const struct option target_options[] = {
    CLI_OPTIONS_COMMON,
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"metric", required_argument, NULL, OPT_METRIC},
    {"period", required_argument, NULL, OPT_PERIOD},
    {"product-line", required_argument, NULL, OPT_PRODUCT_LINE},
    {"target", required_argument, NULL, OPT_TARGET},
    {"floor", required_argument, NULL, OPT_FLOOR},
    {"stretch", required_argument, NULL, OPT_STRETCH},
    {"currency", required_argument, NULL, OPT_CURRENCY},
    {"author", required_argument, NULL, OPT_AUTHOR},
    {"reason", required_argument, NULL, OPT_REASON},
    {"id", required_argument, NULL, OPT_ID},
    {"at", required_argument, NULL, OPT_AT},
    {"method", required_argument, NULL, OPT_METHOD},
    {"weights", required_argument, NULL, OPT_WEIGHTS},
    {"history-periods", required_argument, NULL, OPT_HISTORY_PERIODS},
    {"preview", no_argument, NULL, OPT_PREVIEW},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};

typedef struct {
    cli_options_t common;
    char program[64]; /* "pacer target set", for messages */
    target_sub_t sub;
    uint64_t given;
    const char *scope, *metric, *period, *product_line, *currency, *author, *reason, *id;
    const char *method, *weights;
    int64_t target, floor, stretch, at;
    uint64_t history_periods;
    bool preview, json;
} target_args_t;

static const struct {
    const char *name;
    target_sub_t sub;
    uint64_t allowed;  /* options the subcommand takes */
    uint64_t required; /* options it cannot do without */
} subcommands[] = {
    {"set", TARGET_SET,
     BIT(OPT_SCOPE) | BIT(OPT_METRIC) | BIT(OPT_PERIOD) | BIT(OPT_PRODUCT_LINE) | BIT(OPT_TARGET) |
         BIT(OPT_FLOOR) | BIT(OPT_STRETCH) | BIT(OPT_CURRENCY) | BIT(OPT_AUTHOR) | BIT(OPT_REASON) |
         BIT(OPT_ID) | BIT(OPT_AT) | BIT(OPT_JSON),
     BIT(OPT_SCOPE) | BIT(OPT_METRIC) | BIT(OPT_PERIOD) | BIT(OPT_TARGET) | BIT(OPT_AUTHOR)},
    {"adjust", TARGET_ADJUST,
     BIT(OPT_SCOPE) | BIT(OPT_METRIC) | BIT(OPT_PERIOD) | BIT(OPT_PRODUCT_LINE) | BIT(OPT_TARGET) |
         BIT(OPT_FLOOR) | BIT(OPT_STRETCH) | BIT(OPT_AUTHOR) | BIT(OPT_REASON) | BIT(OPT_ID) |
         BIT(OPT_AT) | BIT(OPT_JSON),
     BIT(OPT_SCOPE) | BIT(OPT_METRIC) | BIT(OPT_PERIOD) | BIT(OPT_AUTHOR) | BIT(OPT_REASON)},
    {"allocate", TARGET_ALLOCATE,
     BIT(OPT_SCOPE) | BIT(OPT_METRIC) | BIT(OPT_PERIOD) | BIT(OPT_PRODUCT_LINE) | BIT(OPT_METHOD) |
         BIT(OPT_WEIGHTS) | BIT(OPT_HISTORY_PERIODS) | BIT(OPT_AUTHOR) | BIT(OPT_REASON) |
         BIT(OPT_ID) | BIT(OPT_AT) | BIT(OPT_PREVIEW) | BIT(OPT_JSON),
     BIT(OPT_SCOPE) | BIT(OPT_METRIC) | BIT(OPT_PERIOD) | BIT(OPT_METHOD) | BIT(OPT_AUTHOR)},
    {"history", TARGET_HISTORY,
     BIT(OPT_SCOPE) | BIT(OPT_METRIC) | BIT(OPT_PERIOD) | BIT(OPT_PRODUCT_LINE) | BIT(OPT_JSON),
     BIT(OPT_SCOPE) | BIT(OPT_METRIC) | BIT(OPT_PERIOD)},
};

#define KEY_HELP                                                                                   \
    "  --scope NODE         the organisation node the target belongs to\n"                         \
    "  --metric M           revenue, margin, deals, collections, kpi:<kpi>, ...\n"                 \
    "  --period P           2026, 2026-Q4, 2026-11, 2026-W47, 2026-11-22, FY2026-Q1, ...\n"        \
    "  --product-line L     one product line (default: all product lines)\n"

#define TIER_HELP                                                                                  \
    "Tiers are integers in the metric's unit: minor currency units (fen, cents) for\n"             \
    "money, counts for counted metrics, basis points for ratios.\n"

static void
target_usage(FILE *out)
{
    fputs("usage: pacer target set|adjust|allocate|history [OPTIONS]\n"
          "\n"
          "Set, adjust and allocate targets, and show a target's audit trail.\n"
          "'pacer target SUBCOMMAND --help' describes each.\n"
          "\n"
          "  set       set or replace the target of a key (a target_set event)\n"
          "  adjust    change tiers of an existing target, with a reason\n"
          "  allocate  split a parent's target across its children\n"
          "  history   who changed a target, when, why, before and after\n",
          out);
}

static void
sub_usage(target_sub_t sub, FILE *out)
{
    switch (sub) {
    case TARGET_SET:
    case TARGET_ADJUST:
        fprintf(out,
                "usage: pacer target %s --scope NODE --metric M --period P [--product-line L]\n"
                "       %s\n"
                "       --author A %s[--id ID] [--at TIME] [--json]\n"
                "\n"
                "%s\n"
                "\n" KEY_HELP "  --target N, --floor N, --stretch N\n"
                "                       the tiers (%s); 0 <= floor <= target <= stretch\n"
                "%s"
                "  --author A           who makes the change (required)\n"
                "  --reason R           why%s\n"
                "  --id ID              the event id (default: built from the key and --at, so\n"
                "                       that a retry with the same --at is a duplicate)\n"
                "  --at TIME            when the change happened (default: now)\n"
                "  --json               print the result as one JSON object\n"
                "\n" TIER_HELP CLI_TIME_HELP "\nExit status 1 when pacerd refuses the change.\n"
                "\n" CLI_OPTIONS_COMMON_HELP,
                sub == TARGET_SET ? "set" : "adjust",
                sub == TARGET_SET ? "[--floor N] --target N [--stretch N] [--currency C]"
                                  : "[--floor N] [--target N] [--stretch N]",
                sub == TARGET_SET ? "[--reason R] " : "--reason R ",
                sub == TARGET_SET
                    ? "Append a target_set event: set, or replace, the tiers of a target key."
                    : "Append a target_adjusted event: change one or more tiers of a key that\n"
                      "has a target; the tiers not given keep their values.",
                sub == TARGET_SET ? "--target required" : "at least one",
                sub == TARGET_SET ? "  --currency C         the currency of a money target (CNY)\n"
                                  : "",
                sub == TARGET_SET ? "" : " (required: the audit trail records it)");
        return;
    case TARGET_ALLOCATE:
        fputs("usage: pacer target allocate --scope NODE --metric M --period P [--product-line L]\n"
              "       --method equal|weights|history [--weights CHILD=W,...]\n"
              "       [--history-periods N] --author A [--reason R] [--id ID] [--at TIME]\n"
              "       [--preview] [--json]\n"
              "\n"
              "Split the target of a parent key across the parent's children and set each\n"
              "child's target (one atomic batch). Every tier the parent has is split with the\n"
              "same weights, rounded so that the children add up to the parent exactly: each\n"
              "child gets its exact share rounded down, and the units left over go one each\n"
              "to the children with the largest remainders; where remainders tie, to the\n"
              "child whose id sorts first (bytewise). With --method equal, the first\n"
              "(parent mod children) children in id order get one unit more.\n"
              "\n" KEY_HELP "  --method equal       the same share for every child\n"
              "  --method weights     in proportion to --weights (every child listed, >= 0)\n"
              "  --method history     in proportion to each child's actual over the previous\n"
              "                       --history-periods N periods of the same kind (1 to 12)\n"
              "  --weights C=W,...    child id = weight, e.g. zhang=3,li=2,wang=1.5\n"
              "  --author A           who allocates (required)\n"
              "  --reason R           why\n"
              "  --id ID              the allocation id; child events get <ID>/<child>, so a\n"
              "                       retry is all duplicates (default: built from the key\n"
              "                       and --at)\n"
              "  --at TIME            when; the children are the parent's as of then (default:\n"
              "                       now)\n"
              "  --preview            show the split and append nothing\n"
              "  --json               print the reply as one JSON object\n"
              "\n" TIER_HELP CLI_TIME_HELP
              "\nExit status 1 when pacerd refuses the allocation or any child's target.\n"
              "\n" CLI_OPTIONS_COMMON_HELP,
              out);
        return;
    case TARGET_HISTORY:
        fputs("usage: pacer target history --scope NODE --metric M --period P [--product-line L]\n"
              "       [--json]\n"
              "\n"
              "The audit trail of a target key, oldest first: every set and adjustment with\n"
              "its seq, time, author, reason, allocation, and each tier before and after.\n"
              "Times are shown in pacerd's time zone with the offset; money in major units\n"
              "with the target's currency (--raw: minor units).\n"
              "\n" KEY_HELP "  --json               print the reply as one JSON object\n"
              "\n" CLI_OPTIONS_COMMON_HELP,
              out);
        return;
    }
}

static bool
parse_tier(target_args_t *args, const char *name, const char *arg, int64_t *out)
{
    uint64_t value = 0;
    if (!cli_options_uint(&args->common, name, arg, 0, (uint64_t)TARGET_TIER_MAX, &value))
        return false;
    *out = (int64_t)value;
    return true;
}

/* Handle one of the subcommand's options. False after printing why not. */
static bool
target_option(target_args_t *args, int opt, const char *arg)
{
    args->given |= BIT(opt);
    switch (opt) {
    case OPT_SCOPE:
        args->scope = arg;
        return true;
    case OPT_METRIC:
        args->metric = arg;
        return true;
    case OPT_PERIOD:
        args->period = arg;
        return true;
    case OPT_PRODUCT_LINE:
        args->product_line = arg;
        return true;
    case OPT_TARGET:
        return parse_tier(args, "target", arg, &args->target);
    case OPT_FLOOR:
        return parse_tier(args, "floor", arg, &args->floor);
    case OPT_STRETCH:
        return parse_tier(args, "stretch", arg, &args->stretch);
    case OPT_CURRENCY:
        args->currency = arg;
        return true;
    case OPT_AUTHOR:
        args->author = arg;
        return true;
    case OPT_REASON:
        args->reason = arg;
        return true;
    case OPT_ID:
        args->id = arg;
        return true;
    case OPT_AT:
        return cli_options_time(&args->common, "at", arg, &args->at);
    case OPT_METHOD:
        if (strcmp(arg, "equal") != 0 && strcmp(arg, "weights") != 0 &&
            strcmp(arg, "history") != 0) {
            cli_options_error(&args->common,
                              "--method: expected equal, weights or history, got \"%s\"", arg);
            return false;
        }
        args->method = arg;
        return true;
    case OPT_WEIGHTS:
        args->weights = arg;
        return true;
    case OPT_HISTORY_PERIODS:
        return cli_options_uint(&args->common, "history-periods", arg, 1, 12,
                                &args->history_periods);
    case OPT_PREVIEW:
        args->preview = true;
        return true;
    case OPT_JSON:
        args->json = true;
        return true;
    default:
        return false;
    }
}

/* Check the combination of options beyond what each says alone. */
static bool
target_check(target_args_t *args, uint64_t allowed, uint64_t required)
{
    for (const struct option *o = target_options; o->name; o++) {
        if (o->val < CLI_OPT_FIRST_OWN)
            continue;
        if ((args->given & BIT(o->val)) && !(allowed & BIT(o->val))) {
            cli_options_error(&args->common, "--%s is not an option of %s", o->name, args->program);
            return false;
        }
        if ((required & BIT(o->val)) && !(args->given & BIT(o->val))) {
            cli_options_error(&args->common, "--%s is required%s", o->name,
                              o->val == OPT_REASON ? ": an adjustment without a reason is refused"
                                                   : "");
            return false;
        }
    }
    if (args->sub == TARGET_ADJUST &&
        !(args->given & (BIT(OPT_TARGET) | BIT(OPT_FLOOR) | BIT(OPT_STRETCH)))) {
        cli_options_error(&args->common, "give at least one of --target, --floor, --stretch");
        return false;
    }
    if (args->sub == TARGET_ALLOCATE) {
        bool weights = strcmp(args->method, "weights") == 0;
        bool history = strcmp(args->method, "history") == 0;
        if (weights != !!args->weights) {
            cli_options_error(&args->common, weights ? "--method weights needs --weights"
                                                     : "--weights goes with --method weights");
            return false;
        }
        if (history != !!(args->given & BIT(OPT_HISTORY_PERIODS))) {
            cli_options_error(&args->common, history
                                                 ? "--method history needs --history-periods N"
                                                 : "--history-periods goes with --method history");
            return false;
        }
    }
    return true;
}

/* The default id: "<prefix>:<scope>:<metric>:<period>:<line>:<ms>", or when
   that is over 64 bytes "<prefix>:<32 hex of BLAKE2b of the key>:<ms>". */
static void
target_default_id(const target_args_t *args, const char *prefix, char *out, size_t outlen)
{
    char key[1024];
    snprintf(key, sizeof key, "%s:%s:%s:%s", args->scope, args->metric, args->period,
             args->product_line ? args->product_line : "*");
    snprintf(out, outlen, "%s:%s:%" PRId64, prefix, key, args->at);
    if (strlen(out) <= TARGET_ID_MAX)
        return;
    unsigned char digest[16];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)key, strlen(key), NULL, 0);
    char hex[2 * sizeof digest + 1];
    cli_json_hex(digest, sizeof digest, hex);
    snprintf(out, outlen, "%s:%s:%" PRId64, prefix, hex, args->at);
}

/* The key fields every target event and request carries. */
static void
pack_key(cli_map_t *map, const target_args_t *args)
{
    cli_map_str(map, "scope", args->scope);
    cli_map_str(map, "metric", args->metric);
    cli_map_str(map, "period", args->period);
    cli_map_str(map, "product_line", args->product_line);
}

/* set and adjust: one event, appended. */
static int
target_change(target_args_t *args)
{
    bool set = args->sub == TARGET_SET;
    const char *type = set ? "target_set" : "target_adjusted";
    char id[1100];
    if (args->id)
        snprintf(id, sizeof id, "%s", args->id);
    else
        target_default_id(args, set ? "target" : "adjust", id, sizeof id);

    cli_map_t event;
    cli_map_init(&event);
    cli_map_str(&event, "type", type);
    cli_map_str(&event, "id", id);
    cli_map_int(&event, "occurred_at", args->at);
    pack_key(&event, args);
    if (args->given & BIT(OPT_TARGET))
        cli_map_int(&event, "target", args->target);
    if (args->given & BIT(OPT_FLOOR))
        cli_map_int(&event, "floor", args->floor);
    if (args->given & BIT(OPT_STRETCH))
        cli_map_int(&event, "stretch", args->stretch);
    cli_map_str(&event, "currency", args->currency);
    cli_map_str(&event, "author", args->author);
    cli_map_str(&event, "reason", args->reason);
    int status = cli_event_append(&args->common, &event, type, id, args->json);
    cli_map_destroy(&event);
    return status;
}

/* Pack "a=1,b=2.5" as a map of child id to weight. */
static bool
pack_weights(target_args_t *args, cli_map_t *map)
{
    size_t count = 0;
    char *copy = strdup(args->weights);
    if (!copy) {
        cli_options_error(&args->common, "out of memory");
        return false;
    }
    /* Check every item first: the map header needs the count. */
    bool ok = true;
    for (char *item = copy, *next; ok && item; item = next) {
        next = strchr(item, ',');
        if (next)
            *next++ = '\0';
        char *eq = strrchr(item, '=');
        char *end = NULL;
        double weight = eq ? strtod(eq + 1, &end) : 0;
        if (!eq || eq == item || end == eq + 1 || *end != '\0' || !isfinite(weight)) {
            cli_options_error(&args->common,
                              "--weights: expected CHILD=WEIGHT,... with a number for each, "
                              "got \"%s\"",
                              item);
            ok = false;
        }
        count++;
    }
    if (ok) {
        memcpy(copy, args->weights, strlen(args->weights) + 1);
        msgpack_packer *pk = cli_map_key(map, "weights");
        if (msgpack_pack_map(pk, count) != 0)
            map->failed = true;
        for (char *item = copy, *next; item; item = next) {
            next = strchr(item, ',');
            if (next)
                *next++ = '\0';
            char *eq = strrchr(item, '=');
            *eq = '\0';
            size_t len = strlen(item);
            if (msgpack_pack_str(pk, len) != 0 || msgpack_pack_str_body(pk, item, len) != 0 ||
                msgpack_pack_double(pk, strtod(eq + 1, NULL)) != 0)
                map->failed = true;
        }
    }
    free(copy);
    return ok;
}

/* How the tiers of the key read: the metric's unit, the reply's currency. */
typedef struct {
    cli_unit_t unit;
    char currency[8];
    bool raw;
} tier_unit_t;

static tier_unit_t
tier_unit(const target_args_t *args, const msgpack_object *body)
{
    tier_unit_t unit = {.unit = cli_metric_unit(args->metric), .raw = args->common.raw};
    cli_reply_str(body, "currency", unit.currency, sizeof unit.currency);
    return unit;
}

static void
format_tier(const tier_unit_t *unit, int64_t value, char *out, size_t outlen)
{
    cli_format_figure(value, unit->unit, unit->currency, unit->raw, out, outlen);
}

static void
tier_cell(cli_table_t *table, const tier_unit_t *unit, const msgpack_object *row, const char *key,
          int64_t *sum, bool *any)
{
    int64_t value = 0;
    if (cli_reply_int(row, key, &value)) {
        char text[64];
        format_tier(unit, value, text, sizeof text);
        cli_table_cell(table, NULL, text);
        *sum += value;
        *any = true;
    } else
        cli_table_cell(table, NULL, "-");
}

static void
print_allocation(const target_args_t *args, const msgpack_object *body, bool preview)
{
    tier_unit_t unit = tier_unit(args, body);
    static const char *const names[] = {"CHILD", "WEIGHT", "FLOOR", "TARGET", "STRETCH"};
    cli_table_t *table = cli_table_new(5, names, "lrrrr");
    const msgpack_object *allocation = cli_reply_get(body, "allocation");
    int64_t sums[3] = {0, 0, 0};
    bool any[3] = {false, false, false};
    static const char *const tiers[] = {"floor", "target", "stretch"};
    if (table && allocation && allocation->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < allocation->via.array.size; i++) {
            const msgpack_object *row = &allocation->via.array.ptr[i];
            char child[256];
            double weight = 0;
            cli_reply_str(row, "child", child, sizeof child);
            cli_table_cell(table, NULL, child);
            if (cli_reply_double(row, "weight", &weight) && weight == floor(weight) &&
                fabs(weight) < 1e15) {
                char text[32];
                cli_format_grouped((int64_t)weight, text, sizeof text);
                cli_table_cell(table, NULL, text);
            } else if (cli_reply_double(row, "weight", &weight))
                cli_table_cellf(table, NULL, "%.6g", weight);
            else
                cli_table_cell(table, NULL, "-");
            for (int t = 0; t < 3; t++)
                tier_cell(table, &unit, row, tiers[t], &sums[t], &any[t]);
        }
        cli_table_cell(table, NULL, "total");
        cli_table_cell(table, NULL, "");
        for (int t = 0; t < 3; t++) {
            char text[64] = "-";
            if (any[t])
                format_tier(&unit, sums[t], text, sizeof text);
            cli_table_cell(table, NULL, text);
        }
        cli_table_print(table, stdout);
    }
    cli_table_destroy(&table);
    bool fell_back = false;
    if (cli_reply_bool(body, "fell_back", &fell_back) && fell_back)
        puts("history was zero for every child: split equally");
    int64_t appended = 0, duplicates = 0, rejected = 0, last_seq = 0;
    if (preview || !cli_reply_int(body, "appended", &appended))
        puts("preview: nothing appended");
    else {
        cli_reply_int(body, "duplicates", &duplicates);
        cli_reply_int(body, "rejected", &rejected);
        cli_reply_int(body, "last_seq", &last_seq);
        printf("appended %" PRId64 ", duplicate %" PRId64 ", rejected %" PRId64
               " (last seq %" PRId64 ")\n",
               appended, duplicates, rejected, last_seq);
    }
}

/* Print the refused child events of a committed allocation to stderr. */
static int64_t
allocation_rejections(target_args_t *args, const msgpack_object *body)
{
    int64_t rejected = 0;
    const msgpack_object *results = cli_reply_get(body, "results");
    const msgpack_object *allocation = cli_reply_get(body, "allocation");
    if (!results || results->type != MSGPACK_OBJECT_ARRAY)
        return 0;
    for (uint32_t i = 0; i < results->via.array.size; i++) {
        char error[64], message[1024], child[256] = "?";
        if (!cli_reply_str(&results->via.array.ptr[i], "error", error, sizeof error))
            continue;
        cli_reply_str(&results->via.array.ptr[i], "message", message, sizeof message);
        if (allocation && allocation->type == MSGPACK_OBJECT_ARRAY &&
            i < allocation->via.array.size)
            cli_reply_str(&allocation->via.array.ptr[i], "child", child, sizeof child);
        cli_options_error(&args->common, "child %s: refused: %s: %s", child, error, message);
        rejected++;
    }
    return rejected;
}

static int
target_allocate(target_args_t *args)
{
    char id[1100];
    if (args->id)
        snprintf(id, sizeof id, "%s", args->id);
    else
        target_default_id(args, "alloc", id, sizeof id);
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "allocate");
    cli_map_str(&request, "id", id);
    cli_map_int(&request, "occurred_at", args->at);
    pack_key(&request, args);
    cli_map_str(&request, "method", args->method);
    if (args->weights && !pack_weights(args, &request)) {
        cli_map_destroy(&request);
        return CLI_EXIT_FAILED;
    }
    if (args->given & BIT(OPT_HISTORY_PERIODS))
        cli_map_int(&request, "history_periods", (int64_t)args->history_periods);
    cli_map_str(&request, "author", args->author);
    cli_map_str(&request, "reason", args->reason);
    if (args->preview)
        cli_map_bool(&request, "preview", true);
    cli_reply_t reply;
    int status =
        cli_request_run(&args->common, args->preview ? PACER_ENDPOINT_QUERY : PACER_ENDPOINT_APPEND,
                        &request, &reply);
    cli_map_destroy(&request);
    if (status != CLI_EXIT_OK)
        return status;
    if (args->json)
        status = cli_reply_print_json(&args->common, reply.body);
    else {
        if (!args->preview)
            printf("allocation %s\n", id);
        print_allocation(args, reply.body, args->preview);
    }
    if (status == CLI_EXIT_OK && allocation_rejections(args, reply.body) > 0)
        status = CLI_EXIT_REJECTED;
    cli_reply_done(&reply);
    return status;
}

/* "1,000 → 1,200" when a tier changed, "1,200" when not, "-" for none. */
static void
history_tier_cell(cli_table_t *table, const tier_unit_t *unit, const msgpack_object *entry,
                  const char *tier)
{
    const msgpack_object *before = cli_reply_get(entry, "before");
    const msgpack_object *after = cli_reply_get(entry, "after");
    int64_t was = 0, is = 0;
    bool had = cli_reply_int(before, tier, &was);
    bool has = cli_reply_int(after, tier, &is);
    char was_text[64] = "-", is_text[64] = "-";
    if (had)
        format_tier(unit, was, was_text, sizeof was_text);
    if (has)
        format_tier(unit, is, is_text, sizeof is_text);
    if (!before || (had == has && was == is))
        cli_table_cell(table, NULL, is_text);
    else
        cli_table_cellf(table, NULL, "%s \xe2\x86\x92 %s", was_text, is_text); /* U+2192 */
}

static int
target_history(target_args_t *args)
{
    cli_map_t request;
    cli_map_init(&request);
    cli_map_str(&request, "op", "target_history");
    pack_key(&request, args);
    cli_reply_t reply;
    int status = cli_request_run(&args->common, PACER_ENDPOINT_QUERY, &request, &reply);
    cli_map_destroy(&request);
    if (status != CLI_EXIT_OK)
        return status;
    if (args->json) {
        status = cli_reply_print_json(&args->common, reply.body);
        cli_reply_done(&reply);
        return status;
    }
    static const char *const names[] = {"SEQ",    "WHEN",    "KIND",   "AUTHOR",    "FLOOR",
                                        "TARGET", "STRETCH", "REASON", "ALLOCATION"};
    cli_table_t *table = cli_table_new(9, names, "rlllrrrll");
    const msgpack_object *history = cli_reply_get(reply.body, "history");
    tier_unit_t unit = tier_unit(args, reply.body);
    cli_request_use_zone(&args->common);
    if (!table) {
        cli_options_error(&args->common, "out of memory");
        cli_reply_done(&reply);
        return CLI_EXIT_FAILED;
    }
    for (uint32_t i = 0;
         history && history->type == MSGPACK_OBJECT_ARRAY && i < history->via.array.size; i++) {
        const msgpack_object *entry = &history->via.array.ptr[i];
        int64_t seq = 0, occurred_at = 0;
        char when[64] = "", kind[32], author[128], reason[1100], allocation[128];
        cli_reply_int(entry, "seq", &seq);
        if (cli_reply_int(entry, "occurred_at", &occurred_at))
            cli_time_format(occurred_at, when, sizeof when);
        cli_reply_str(entry, "kind", kind, sizeof kind);
        cli_reply_str(entry, "author", author, sizeof author);
        cli_reply_str(entry, "reason", reason, sizeof reason);
        cli_reply_str(entry, "allocation", allocation, sizeof allocation);
        cli_table_cellf(table, NULL, "%" PRId64, seq);
        cli_table_cell(table, NULL, when);
        cli_table_cell(table, NULL, kind);
        cli_table_cell(table, NULL, author);
        history_tier_cell(table, &unit, entry, "floor");
        history_tier_cell(table, &unit, entry, "target");
        history_tier_cell(table, &unit, entry, "stretch");
        cli_table_cell(table, NULL, reason);
        cli_table_cell(table, NULL, allocation);
    }
    cli_table_hide_if_empty(table, 8);
    printf("%s %s %s%s%s\n", args->scope, args->metric, args->period, args->product_line ? " " : "",
           args->product_line ? args->product_line : "");
    cli_table_print(table, stdout);
    cli_table_destroy(&table);
    cli_reply_done(&reply);
    return CLI_EXIT_OK;
}

int
cli_target_main(int argc, char **argv)
{
    target_args_t args = {0};
    cli_options_init(&args.common, "target");
    if (argc < 2 || argv[1][0] == '-') {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        target_usage(help ? stdout : stderr);
        return help ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    }
    size_t which = 0, count = sizeof subcommands / sizeof subcommands[0];
    while (which < count && strcmp(argv[1], subcommands[which].name) != 0)
        which++;
    if (which == count) {
        fprintf(stderr, "pacer target: unknown subcommand \"%s\"\n\n", argv[1]);
        target_usage(stderr);
        return CLI_EXIT_FAILED;
    }
    args.sub = subcommands[which].sub;
    snprintf(args.program, sizeof args.program, "pacer target %s", subcommands[which].name);
    /* Messages say "pacer target set: ..." (cli_options_error prefixes "pacer "). */
    args.common.command = args.program + strlen("pacer ");
    argv[1] = args.program; /* getopt_long names argv[0] in its own messages */

    int opt;
    while ((opt = getopt_long(argc - 1, argv + 1, "", target_options, NULL)) != -1) {
        int handled = cli_options_handle(&args.common, opt, optarg);
        bool ok = handled > 0 || (handled == 0 && opt >= CLI_OPT_FIRST_OWN && opt < OPT_END &&
                                  target_option(&args, opt, optarg));
        if (!ok)
            return cli_options_try_help(&args.common);
    }
    if (args.common.help) {
        sub_usage(args.sub, stdout);
        return CLI_EXIT_OK;
    }
    if (optind < argc - 1) {
        cli_options_error(&args.common, "unexpected argument \"%s\"", argv[1 + optind]);
        return CLI_EXIT_FAILED;
    }
    if (!target_check(&args, subcommands[which].allowed, subcommands[which].required))
        return cli_options_try_help(&args.common);
    if (!(args.given & BIT(OPT_AT)))
        args.at = cli_time_now();
    switch (args.sub) {
    case TARGET_SET:
    case TARGET_ADJUST:
        return target_change(&args);
    case TARGET_ALLOCATE:
        return target_allocate(&args);
    case TARGET_HISTORY:
        return target_history(&args);
    }
    return CLI_EXIT_FAILED;
}
