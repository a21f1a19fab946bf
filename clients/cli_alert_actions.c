/*  cli_alert_actions: what people do about alerts, each an event in the log.

      pacer silence PREFIX|KEY [--until TIME] --reason TEXT    alert_silenced
      pacer unsilence PREFIX|KEY [--reason TEXT]               alert_unsilenced
      pacer review KEY --confirm|--dismiss --reason TEXT       anomaly_reviewed
      pacer rule set RULE PARAM VALUE [--metric M] [--kind K]  alert_rule_set

    Each builds one event (docs/EVENTS.md, "Alerts") and appends it, so the
    audit trail says who silenced, tuned or reviewed what, when and why. The
    author is --author, else $PACER_AUTHOR, $USER or $LOGNAME. The event id
    is made once per run from the kind, the time and a random suffix
    (`silence:1795000000000:9f2c01ab`); give --id to make a script's retry
    of the same decision a duplicate rather than a second one.

    A PREFIX ends in "/" and, like tail's, may leave out the leading
    "alert/"; unsilence applies the same rule, so the text it sends is
    exactly the one silence stored. */

#include "clients/cli_commands.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/cli_alert.h"
#include "clients/cli_options.h"
#include "clients/cli_request.h"
#include "clients/cli_time.h"

#define ALERT_TEXT_MAX 256

typedef enum { ACTION_SILENCE, ACTION_UNSILENCE, ACTION_REVIEW, ACTION_RULE } action_t;

enum {
    OPT_UNTIL = CLI_OPT_FIRST_OWN,
    OPT_REASON,
    OPT_AUTHOR,
    OPT_ID,
    OPT_AT,
    OPT_JSON,
    OPT_CONFIRM,
    OPT_DISMISS,
    OPT_METRIC,
    OPT_KIND,
};

static const struct option action_options[] = {
    CLI_OPTIONS_COMMON,
    {"until", required_argument, NULL, OPT_UNTIL},
    {"reason", required_argument, NULL, OPT_REASON},
    {"author", required_argument, NULL, OPT_AUTHOR},
    {"id", required_argument, NULL, OPT_ID},
    {"at", required_argument, NULL, OPT_AT},
    {"json", no_argument, NULL, OPT_JSON},
    {"confirm", no_argument, NULL, OPT_CONFIRM},
    {"dismiss", no_argument, NULL, OPT_DISMISS},
    {"metric", required_argument, NULL, OPT_METRIC},
    {"kind", required_argument, NULL, OPT_KIND},
    {NULL, 0, NULL, 0},
};

#define BIT(opt)    (1u << ((opt)-CLI_OPT_FIRST_OWN))
#define COMMON_BITS (BIT(OPT_REASON) | BIT(OPT_AUTHOR) | BIT(OPT_ID) | BIT(OPT_AT) | BIT(OPT_JSON))

static const struct {
    action_t action;
    const char *name; /* as typed: "silence", "rule set" */
    const char *type; /* the event */
    const char *id_prefix;
    unsigned allowed;
    unsigned required;
    int positionals;
} actions[] = {
    {ACTION_SILENCE, "silence", "alert_silenced", "silence", COMMON_BITS | BIT(OPT_UNTIL),
     BIT(OPT_REASON), 1},
    {ACTION_UNSILENCE, "unsilence", "alert_unsilenced", "unsilence", COMMON_BITS, 0, 1},
    {ACTION_REVIEW, "review", "anomaly_reviewed", "review",
     COMMON_BITS | BIT(OPT_CONFIRM) | BIT(OPT_DISMISS), BIT(OPT_REASON), 1},
    {ACTION_RULE, "rule set", "alert_rule_set", "rule",
     COMMON_BITS | BIT(OPT_METRIC) | BIT(OPT_KIND), BIT(OPT_AUTHOR), 3},
};

#define ACTION_COMMON_HELP                                                                         \
    "  --author A       who decides (default: $PACER_AUTHOR, $USER or $LOGNAME)\n"                 \
    "  --id ID          the event id (default: made from the time and a random suffix)\n"          \
    "  --at TIME        when the decision was taken, and so from when it applies\n"                \
    "                   (default: now; with a --manual-clock pacerd, a time on its clock)\n"       \
    "  --json           print the result as one JSON object\n"

static void
action_usage(action_t action, FILE *out)
{
    switch (action) {
    case ACTION_SILENCE:
        fputs("usage: pacer silence PREFIX|KEY [--until TIME] --reason TEXT [--author A]\n"
              "\n"
              "Silence an alert (by its key, e.g. behind/rep-42/revenue/2026-11) or every\n"
              "alert under a topic prefix (ending in /, e.g. alert/behind/acme/east/). A\n"
              "silenced alert is still evaluated and listed by 'pacer alerts --active', but\n"
              "nothing is published or delivered for it. Appends an alert_silenced event;\n"
              "silencing the same PREFIX|KEY again replaces the silence.\n"
              "\n"
              "  --until TIME     when the silence ends; TIME, or +DURATION from now (+90m,\n"
              "                   +8h, +2d). Default: until the alert resolves\n"
              "  --reason TEXT    why (required)\n" ACTION_COMMON_HELP "\n" CLI_TIME_HELP
              "\nExit status 1 when pacerd refuses the event.\n"
              "\n" CLI_OPTIONS_COMMON_HELP,
              out);
        return;
    case ACTION_UNSILENCE:
        fputs("usage: pacer unsilence PREFIX|KEY [--reason TEXT] [--author A]\n"
              "\n"
              "Lift a silence before its end: PREFIX|KEY exactly as it was silenced (see\n"
              "'pacer silences'). Appends an alert_unsilenced event; pacerd refuses it when\n"
              "no such silence is in force.\n"
              "\n"
              "  --reason TEXT    why\n" ACTION_COMMON_HELP
              "\nExit status 1 when pacerd refuses the event.\n"
              "\n" CLI_OPTIONS_COMMON_HELP,
              out);
        return;
    case ACTION_REVIEW:
        fputs("usage: pacer review KEY --confirm|--dismiss --reason TEXT [--author A]\n"
              "\n"
              "A manager's verdict on an anomaly flag (KEY: anomaly/<detector>/...). Either\n"
              "way the flag resolves; a dismissed flag is never raised again for the same\n"
              "evidence. Appends an anomaly_reviewed event.\n"
              "\n"
              "  --confirm        the anomaly is real\n"
              "  --dismiss        it is not (a false positive)\n"
              "  --reason TEXT    why (required)\n" ACTION_COMMON_HELP
              "\nExit status 1 when pacerd refuses the event (an unknown KEY).\n"
              "\n" CLI_OPTIONS_COMMON_HELP,
              out);
        return;
    case ACTION_RULE:
        fputs("usage: pacer rule set RULE PARAM VALUE [--metric M] [--kind K] --author A\n"
              "                      [--reason R]\n"
              "\n"
              "Change a threshold or window of an alert rule, for every target key or for one\n"
              "metric and/or one level of the organisation; the most specific setting wins.\n"
              "Appends an alert_rule_set event (audited and replayed like any other).\n"
              "\n"
              "  RULE             at_risk, behind, momentum, forecast_floor, achieved,\n"
              "                   stretch_achieved, lag (settings shared by the lag rules), or\n"
              "                   anomaly/<detector>\n"
              "  PARAM VALUE      e.g. threshold 0.9, margin 0.05, min_elapsed 0.2,\n"
              "                   repeat_hours 12, window_days 5, factor 0.4, enabled 0\n"
              "  --metric M       only for this metric (revenue, deals, kpi:csat, ...)\n"
              "  --kind K         only for this level: company, region, team or rep\n"
              "  --reason R       why\n" ACTION_COMMON_HELP
              "\ndocs/PROTOCOL.md, \"Alert rules\", lists each rule's settings, defaults and\n"
              "ranges. Exit status 1 when pacerd refuses the event.\n"
              "\n" CLI_OPTIONS_COMMON_HELP,
              out);
        return;
    }
}

typedef struct {
    cli_options_t common;
    char program[32];
    unsigned given;
    const char *reason, *author, *id, *metric, *kind;
    int64_t until, at;
    bool json, confirm, dismiss;
} action_args_t;

/* TIME, or +N followed by s, m, h or d: from now. */
static bool
parse_until(action_args_t *args, const char *arg)
{
    if (arg[0] == '+') {
        char *end = NULL;
        errno = 0;
        double amount = strtod(arg + 1, &end);
        static const struct {
            char unit;
            int64_t ms;
        } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
        for (size_t i = 0; end && end != arg + 1 && errno == 0 && amount > 0 && isfinite(amount) &&
                           amount < 1e6 && i < sizeof units / sizeof units[0];
             i++)
            if (end[0] == units[i].unit && end[1] == '\0') {
                args->until = cli_time_now() + (int64_t)(amount * (double)units[i].ms);
                return true;
            }
        cli_options_error(&args->common,
                          "--until: expected TIME or +DURATION such as +90m, +8h "
                          "or +2d, got \"%s\"",
                          arg);
        return false;
    }
    return cli_options_time(&args->common, "until", arg, &args->until);
}

static bool
action_option(action_args_t *args, int opt, const char *arg)
{
    args->given |= BIT(opt);
    switch (opt) {
    case OPT_UNTIL:
        return parse_until(args, arg);
    case OPT_REASON:
        args->reason = arg;
        return true;
    case OPT_AUTHOR:
        args->author = arg;
        return true;
    case OPT_ID:
        args->id = arg;
        return true;
    case OPT_AT:
        return cli_options_time(&args->common, "at", arg, &args->at);
    case OPT_JSON:
        args->json = true;
        return true;
    case OPT_CONFIRM:
        args->confirm = true;
        return true;
    case OPT_DISMISS:
        args->dismiss = true;
        return true;
    case OPT_METRIC:
        args->metric = arg;
        return true;
    case OPT_KIND:
        args->kind = arg;
        return true;
    default:
        return false;
    }
}

/* The alert text a PREFIX|KEY argument stands for: a prefix (ending in /)
   gets "alert/" in front unless it has it; a key is taken as it is. */
static bool
alert_text(action_args_t *args, const char *arg, char *out, size_t outlen)
{
    size_t len = strlen(arg);
    if (len == 0) {
        cli_options_error(&args->common, "an empty PREFIX|KEY");
        return false;
    }
    if (arg[len - 1] == '/')
        cli_alert_prefix(arg, out, outlen);
    else
        snprintf(out, outlen, "%s", arg);
    if (strlen(out) > ALERT_TEXT_MAX) {
        cli_options_error(&args->common, "\"%s\" is over %d bytes", out, ALERT_TEXT_MAX);
        return false;
    }
    return true;
}

static int
action_run(action_args_t *args, size_t which, char **positional)
{
    action_t action = actions[which].action;
    const char *type = actions[which].type;
    char id[128];
    if (args->id)
        snprintf(id, sizeof id, "%s", args->id);
    else
        cli_event_id(actions[which].id_prefix, args->at, id, sizeof id);
    const char *author = args->author ? args->author : cli_event_author();

    cli_map_t event;
    cli_map_init(&event);
    cli_map_str(&event, "type", type);
    cli_map_str(&event, "id", id);
    cli_map_int(&event, "occurred_at", args->at);
    if (action == ACTION_RULE) {
        char *end = NULL;
        double value = strtod(positional[2], &end);
        if (end == positional[2] || *end != '\0' || !isfinite(value)) {
            cli_options_error(&args->common, "VALUE: expected a number, got \"%s\"", positional[2]);
            cli_map_destroy(&event);
            return CLI_EXIT_FAILED;
        }
        cli_map_str(&event, "rule", positional[0]);
        cli_map_str(&event, "param", positional[1]);
        if (msgpack_pack_double(cli_map_key(&event, "value"), value) != 0)
            event.failed = true;
        cli_map_str(&event, "metric", args->metric);
        cli_map_str(&event, "kind", args->kind);
    } else {
        char alert[ALERT_TEXT_MAX + 64];
        if (!alert_text(args, positional[0], alert, sizeof alert)) {
            cli_map_destroy(&event);
            return CLI_EXIT_FAILED;
        }
        cli_map_str(&event, "alert", alert);
        if (action == ACTION_REVIEW)
            cli_map_str(&event, "verdict", args->confirm ? "confirmed" : "dismissed");
    }
    cli_map_str(&event, "author", author);
    cli_map_str(&event, "reason", args->reason);
    if (action == ACTION_SILENCE && (args->given & BIT(OPT_UNTIL)))
        cli_map_int(&event, "until", args->until);
    int status = cli_event_append(&args->common, &event, type, id, args->json);
    cli_map_destroy(&event);
    return status;
}

/* argv[0] is the action's name ("silence"; for rule, argv[0] is "rule" and
   argv[1] "set"). */
static int
action_main(size_t which, int argc, char **argv)
{
    action_args_t args = {0};
    snprintf(args.program, sizeof args.program, "pacer %s", actions[which].name);
    cli_options_init(&args.common, actions[which].name);
    int opt;
    while ((opt = getopt_long(argc, argv, "", action_options, NULL)) != -1) {
        int handled = cli_options_handle(&args.common, opt, optarg);
        bool ok = handled > 0 ||
                  (handled == 0 && opt >= CLI_OPT_FIRST_OWN && action_option(&args, opt, optarg));
        if (!ok)
            return cli_options_try_help(&args.common);
    }
    if (args.common.help) {
        action_usage(actions[which].action, stdout);
        return CLI_EXIT_OK;
    }
    for (const struct option *o = action_options; o->name; o++) {
        if (o->val < CLI_OPT_FIRST_OWN)
            continue;
        const char *problem =
            (args.given & BIT(o->val)) && !(actions[which].allowed & BIT(o->val))
                ? "is not an option of"
            : (actions[which].required & BIT(o->val)) && !(args.given & BIT(o->val))
                ? "is required by"
                : NULL;
        if (problem) {
            cli_options_error(&args.common, "--%s %s %s", o->name, problem, args.program);
            return cli_options_try_help(&args.common);
        }
    }
    if (actions[which].action == ACTION_REVIEW && args.confirm == args.dismiss) {
        cli_options_error(&args.common, "give one of --confirm and --dismiss");
        return CLI_EXIT_FAILED;
    }
    int positionals = actions[which].positionals;
    if (argc - optind != positionals) {
        cli_options_error(&args.common, "expected %s, got %d argument%s",
                          positionals == 1 ? "one PREFIX|KEY" : "RULE PARAM VALUE", argc - optind,
                          argc - optind == 1 ? "" : "s");
        return cli_options_try_help(&args.common);
    }
    if (!(args.given & BIT(OPT_AT)))
        args.at = cli_time_now();
    return action_run(&args, which, argv + optind);
}

int
cli_silence_main(int argc, char **argv)
{
    return action_main(0, argc, argv);
}

int
cli_unsilence_main(int argc, char **argv)
{
    return action_main(1, argc, argv);
}

int
cli_review_main(int argc, char **argv)
{
    return action_main(2, argc, argv);
}

int
cli_rule_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "set") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        FILE *out = help ? stdout : stderr;
        if (!help)
            fprintf(stderr, "pacer rule: expected the subcommand \"set\"\n\n");
        action_usage(ACTION_RULE, out);
        return help ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    }
    char program[] = "pacer rule set";
    argv[1] = program; /* getopt_long names argv[0] in its messages */
    return action_main(3, argc - 1, argv + 1);
}
