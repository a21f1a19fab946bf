/*  gen_world: the organisation and the base (clean) sales history.

    The organisation: one company, `regions` regions, `teams` teams in each,
    and N-2..N+2 reps per team. Every rep has an ability (lognormal, so there
    are strong and weak ones), a pricing habit, a rate of winning new customers
    and a book of customers that existed before the history. One region
    under-performs: its reps close fewer deals than planned, more so as the
    history goes on. With at least 45 days of history, one rep is hired at the
    start of the second month (with a ramp-up and a few inherited customers)
    and one moves to another team of the same region on the same day.

    The history is simulated day by day, 30 days past its end (so that deals
    just after it have their sales trail in it; output drops what is after
    the end). For each active rep, each day:

      new customers   Poisson, over-dispersed (a gamma-distributed day rate),
                      at most 4 a day (5 for a new hire in their first three
                      weeks, who builds a book at about 1 a day); each gets an
                      intro call and a few more activities, and about a third
                      become buyers: their first deal comes 5-40 days later,
                      after a quote.
      deals           Poisson with rate 3.6 x ability x the day's factor
                      (weekday, holiday, month, period-end rush, slow days
                      around long holidays), each for a customer of the book
                      weighted by propensity, in the customer's usual product
                      line or another. Each is preceded by 1-5 activities for
                      that customer on working days of the 21 days before it,
                      the last one (often a quote) within 5 days; one deal in
                      ten is signed after a silence, its whole trail 15-28
                      days before. So every legitimate deal that is not a
                      standing order or an inbound reorder has an activity
                      for its customer within the 28 days before it.
                      Legitimate tails: 0.6% key-account deals (quantity x8-30
                      at a 15% volume discount, services x2.5-5, with 3 or
                      more activities and a visit), 0.3% premium
                      configurations (hardware and software unit price
                      x1.4-1.8).
      standing orders customers on a cadence (consumables every 7, 14 or 28
                      days, subscriptions and licences every 28) order the
                      same quantity at the same price: the same amount again
                      and again, never two within a cadence (duplicate
                      detection's near misses); some change their quantity
                      once. A quarter of them, and every one of at least twice
                      the line's typical amount, follow a call or visit.
      inbound         now and then a dormant customer reorders a few
                      consumables with no sales trail (a small deal:
                      no_sales_trail's near miss).
      activities      calls, visits, demos and quotes with the rep's customers.

    Each deal's follow-ups are drawn when it is made: payment terms by product
    line (consumables partly cash), payments mostly before due_at, 12% late
    but at most 7 days after it (slow payers mostly late), 5% in two
    instalments; 2.5% partial refunds, 1.2% cancellations (no payment then),
    1.5% second orders of the same day for the same customer and line with
    another quantity, 0.4% corrections (cancelled within hours and booked
    again by the same rep with another quantity), 15% a follow-up activity
    that names the order. At each month start 1.5% of customers move to a
    teammate (territory rebalancing).

    Targets are set from a plan that knows each rep's territory (its revenue
    per unit of deal intensity, as if from last year's history) and each
    rep's ability with a 15% error, but not the under-performing region's
    slump; target = plan + 5%, floor 90% and stretch 115% of it. Parents'
    targets are the sums of their children's. */

#include "clients/gen/gen.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BASE_DEALS_PER_DAY 3.6
#define MAX_NEW_PER_DAY    5 /* a new hire's; others' one fewer */

const gen_line_t gen_lines[GEN_LINE_COUNT] = {
    /* id, name, popularity, unit median (yuan), sigma, qty median, sigma, terms, cash,
       margin, standing */
    {"hw", "服务器与硬件 Servers & hardware", 0.17, 38000, 0.30, 2.0, 0.75, 30, 0.0, 0.18, 0.0},
    {"sw", "软件许可 Software licences", 0.24, 1600, 0.45, 18.0, 0.85, 30, 0.0, 0.78, 0.03},
    {"svc", "专业服务 Professional services", 0.12, 60000, 0.50, 0.0, 0.0, 60, 0.0, 0.35, 0.0},
    {"cloud", "云服务订阅 Cloud subscriptions", 0.20, 4800, 0.25, 6.0, 0.80, 30, 0.0, 0.55, 0.12},
    {"cons", "耗材与备件 Consumables & parts", 0.27, 260, 0.22, 40.0, 0.70, 15, 0.2, 0.25, 0.15},
};

size_t
gen_grow(void **items, size_t *count, size_t *cap, size_t size)
{
    if (*count == *cap) {
        size_t want = *cap ? *cap * 2 : 64;
        void *more = realloc(*items, want * size);
        if (!more) {
            fprintf(stderr, "pacer-gen: out of memory\n");
            exit(2);
        }
        *items = more;
        *cap = want;
    }
    memset((char *)*items + *count * size, 0, size);
    return (*count)++;
}

/* ---- names ------------------------------------------------------------------ */

typedef struct {
    const char *hanzi, *pinyin;
} gen_syllable_t;

static const gen_syllable_t surnames[] = {
    {"王", "wang"},  {"李", "li"},    {"张", "zhang"}, {"刘", "liu"},   {"陈", "chen"},
    {"杨", "yang"},  {"黄", "huang"}, {"赵", "zhao"},  {"吴", "wu"},    {"周", "zhou"},
    {"徐", "xu"},    {"孙", "sun"},   {"马", "ma"},    {"朱", "zhu"},   {"胡", "hu"},
    {"郭", "guo"},   {"何", "he"},    {"高", "gao"},   {"林", "lin"},   {"罗", "luo"},
    {"郑", "zheng"}, {"梁", "liang"}, {"谢", "xie"},   {"宋", "song"},  {"唐", "tang"},
    {"许", "xu"},    {"韩", "han"},   {"冯", "feng"},  {"邓", "deng"},  {"曹", "cao"},
    {"彭", "peng"},  {"曾", "zeng"},  {"肖", "xiao"},  {"田", "tian"},  {"董", "dong"},
    {"袁", "yuan"},  {"潘", "pan"},   {"于", "yu"},    {"蒋", "jiang"}, {"蔡", "cai"},
};

static const gen_syllable_t given_names[] = {
    {"伟", "wei"},        {"芳", "fang"},       {"娜", "na"},        {"敏", "min"},
    {"静", "jing"},       {"丽", "li"},         {"强", "qiang"},     {"磊", "lei"},
    {"军", "jun"},        {"洋", "yang"},       {"勇", "yong"},      {"艳", "yan"},
    {"杰", "jie"},        {"娟", "juan"},       {"涛", "tao"},       {"明", "ming"},
    {"超", "chao"},       {"秀英", "xiuying"},  {"霞", "xia"},       {"平", "ping"},
    {"刚", "gang"},       {"桂英", "guiying"},  {"建华", "jianhua"}, {"志强", "zhiqiang"},
    {"晓东", "xiaodong"}, {"海燕", "haiyan"},   {"文博", "wenbo"},   {"子涵", "zihan"},
    {"浩然", "haoran"},   {"雨桐", "yutong"},   {"思远", "siyuan"},  {"嘉怡", "jiayi"},
    {"俊杰", "junjie"},   {"欣怡", "xinyi"},    {"宇航", "yuhang"},  {"梦琪", "mengqi"},
    {"国强", "guoqiang"}, {"丽华", "lihua"},    {"建国", "jianguo"}, {"春梅", "chunmei"},
    {"志伟", "zhiwei"},   {"婷婷", "tingting"}, {"鹏", "peng"},      {"辉", "hui"},
    {"斌", "bin"},        {"琳", "lin"},        {"雪", "xue"},       {"倩", "qian"},
    {"凯", "kai"},        {"晨", "chen"},       {"一鸣", "yiming"},  {"天佑", "tianyou"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* People's ids taken so far: a set of 64-bit FNV-1a hashes (open addressing,
   0 for empty), since thousands of reps share about 2,000 names. */
static uint64_t
id_hash(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return h | 1;
}

static bool
person_taken(gen_world_t *w, const char *id, bool take)
{
    if (take && (w->npeople + 1) * 2 > w->cappeople) {
        size_t cap = w->cappeople ? w->cappeople * 2 : 1024;
        uint64_t *slots = calloc(cap, sizeof *slots);
        if (!slots) {
            fprintf(stderr, "pacer-gen: out of memory\n");
            exit(2);
        }
        for (size_t i = 0; i < w->cappeople; i++)
            if (w->people[i])
                for (size_t j = w->people[i] & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (!slots[j]) {
                        slots[j] = w->people[i];
                        break;
                    }
        free(w->people);
        w->people = slots;
        w->cappeople = cap;
    }
    if (!w->cappeople)
        return false;
    uint64_t h = id_hash(id);
    size_t j = h & (w->cappeople - 1);
    while (w->people[j] && w->people[j] != h)
        j = (j + 1) & (w->cappeople - 1);
    if (w->people[j])
        return true;
    if (take) {
        w->people[j] = h;
        w->npeople++;
    }
    return false;
}

/* A person's display name and a unique id such as "zhang.wei" or "zhang.wei.2". */
static void
person_new(gen_world_t *w, gen_rng_t *rng, char id[48], char name[96])
{
    const gen_syllable_t *s = &surnames[gen_rng_range(rng, 0, COUNT(surnames) - 1)];
    const gen_syllable_t *g = &given_names[gen_rng_range(rng, 0, COUNT(given_names) - 1)];
    snprintf(name, 96, "%s%s", s->hanzi, g->hanzi);
    snprintf(id, 48, "%s.%s", s->pinyin, g->pinyin);
    for (int n = 2; person_taken(w, id, false); n++)
        snprintf(id, 48, "%s.%s.%d", s->pinyin, g->pinyin, n);
    person_taken(w, id, true);
}

static const char *const cities[] = {
    "上海", "北京", "广州", "深圳", "杭州", "南京", "苏州", "成都", "重庆", "武汉",
    "西安", "天津", "长沙", "郑州", "青岛", "厦门", "宁波", "无锡", "合肥", "济南",
    "福州", "大连", "沈阳", "昆明", "东莞", "佛山", "常州", "温州",
};
static const char *const cores[] = {
    "华信", "明德", "宏达", "恒通", "金桥", "瑞丰", "博远", "鼎盛", "天成", "新源",
    "海纳", "中科", "永安", "汇通", "正泰", "凯达", "盛世", "远航", "卓越", "东方",
    "万邦", "同创", "华瑞", "启明", "锦程", "联创", "泰和", "嘉禾", "安捷", "昊天",
    "星辰", "云帆", "德润", "银河", "长城", "立信", "国泰", "信达", "奥特", "精工",
};
static const char *const trades[] = {
    "电子", "精密机械", "物流",       "医疗器械", "软件",     "贸易",     "建设",
    "食品", "化工",     "汽车零部件", "教育科技", "环保科技", "能源",     "纺织",
    "制药", "信息技术", "包装材料",   "家居",     "检测技术", "通信设备",
};
static const char *const company_forms[] = {"有限公司", "有限公司", "有限公司", "股份有限公司",
                                            "集团有限公司"};

static void
customer_name(gen_rng_t *rng, char name[96])
{
    snprintf(name, 96, "%s%s%s%s", cities[gen_rng_range(rng, 0, COUNT(cities) - 1)],
             cores[gen_rng_range(rng, 0, COUNT(cores) - 1)],
             trades[gen_rng_range(rng, 0, COUNT(trades) - 1)],
             company_forms[gen_rng_range(rng, 0, COUNT(company_forms) - 1)]);
}

typedef struct {
    const char *id, *name;
    const char *teams[4][2]; /* id suffix, display name */
} gen_region_name_t;

static const gen_region_name_t region_names[] = {
    {"east",
     "华东大区 East China",
     {{"shanghai", "上海团队"},
      {"hangzhou", "杭州团队"},
      {"nanjing", "南京团队"},
      {"suzhou", "苏州团队"}}},
    {"north",
     "华北大区 North China",
     {{"beijing", "北京团队"},
      {"tianjin", "天津团队"},
      {"jinan", "济南团队"},
      {"shijiazhuang", "石家庄团队"}}},
    {"south",
     "华南大区 South China",
     {{"guangzhou", "广州团队"},
      {"shenzhen", "深圳团队"},
      {"xiamen", "厦门团队"},
      {"fuzhou", "福州团队"}}},
    {"west",
     "西部大区 West China",
     {{"chengdu", "成都团队"},
      {"chongqing", "重庆团队"},
      {"xian", "西安团队"},
      {"kunming", "昆明团队"}}},
    {"central",
     "华中大区 Central China",
     {{"wuhan", "武汉团队"},
      {"changsha", "长沙团队"},
      {"zhengzhou", "郑州团队"},
      {"hefei", "合肥团队"}}},
    {"northeast",
     "东北大区 Northeast China",
     {{"shenyang", "沈阳团队"},
      {"dalian", "大连团队"},
      {"harbin", "哈尔滨团队"},
      {"changchun", "长春团队"}}},
};

/* ---- the world ---------------------------------------------------------------- */

static double
clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

double
gen_line_typical_amount(int line)
{
    const gen_line_t *l = &gen_lines[line];
    double qty = l->qty_median > 0 ? l->qty_median : 1;
    return l->unit_median * qty * 100.0;
}

static double
day_factor_of(int64_t day)
{
    static const double weekday[7] = {0.92, 1.04, 1.08, 1.04, 0.92, 0.04, 0.03};
    static const double month[12] = {1.0, 0.8,  1.1,  1.0, 0.95, 1.1,
                                     0.9, 0.85, 1.05, 0.9, 1.05, 1.2};
    const char *name;
    gen_day_kind_t kind = gen_day_kind(day, &name);
    int y, m, d;
    gen_civil_from_days(day, &y, &m, &d);
    double f = month[m - 1];
    if (kind == GEN_DAY_HOLIDAY)
        return f * 0.015;
    if (kind == GEN_DAY_WEEKEND)
        return f * weekday[gen_weekday(day)];
    f *= kind == GEN_DAY_MAKEUP ? 0.8 : weekday[gen_weekday(day)];

    /* The month-end rush (stronger at quarter end) and a slow first two days. */
    int after = 0, before = 0;
    for (int64_t x = day + 1; x < gen_next_month(day); x++)
        after += gen_is_working(x);
    for (int64_t x = gen_month_start(day); x < day; x++)
        before += gen_is_working(x);
    if (after < 3)
        f *= m % 3 == 0 ? 1.5 : 1.25;
    else if (before < 2)
        f *= 0.85;

    /* Business slows before a long holiday and restarts slowly after it. */
    for (int k = 1; k <= 3; k++) {
        gen_day_kind_t ahead = gen_day_kind(day + k, &name);
        gen_day_kind_t behind = gen_day_kind(day - k, &name);
        if (ahead == GEN_DAY_HOLIDAY && gen_day_kind(day + k + 2, &name) == GEN_DAY_HOLIDAY) {
            f *= 0.8;
            break;
        }
        if (behind == GEN_DAY_HOLIDAY && gen_day_kind(day - k - 2, &name) == GEN_DAY_HOLIDAY) {
            f *= 0.75;
            break;
        }
    }
    return f;
}

void
gen_world_init(gen_world_t *w, const gen_config_t *cfg)
{
    memset(w, 0, sizeof *w);
    w->cfg = *cfg;
    gen_rng_seed(&w->base, cfg->seed, 1);
    gen_rng_seed(&w->inject, cfg->seed, 2);
    w->end_day = cfg->start_day + cfg->days;
    w->t0 = gen_local_ms(cfg->start_day, 0);
    w->t_end = gen_local_ms(w->end_day, 0);
    w->plan_first = gen_quarter_start(cfg->start_day);
    w->plan_last = gen_quarter_start(w->end_day - 1);
    for (int i = 0; i < 3; i++)
        w->plan_last = gen_next_month(w->plan_last);
    size_t n = (size_t)(w->plan_last - w->plan_first);
    w->day_factor = calloc(n, sizeof *w->day_factor);
    if (!w->day_factor) {
        fprintf(stderr, "pacer-gen: out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++)
        w->day_factor[i] = day_factor_of(w->plan_first + (int64_t)i);
    w->hire = w->mover = w->under_region = -1;
}

void
gen_world_destroy(gen_world_t *w)
{
    for (size_t i = 0; i < w->nnodes; i++)
        free(w->nodes[i].book);
    for (size_t i = 0; i < w->nlabels; i++)
        free(w->labels[i].refs);
    free(w->nodes);
    free(w->customers);
    free(w->deals);
    free(w->acts);
    free(w->targets);
    free(w->labels);
    free(w->day_factor);
    free(w->plan);
    free(w->people);
    memset(w, 0, sizeof *w);
}

static double
day_factor(const gen_world_t *w, int64_t day)
{
    if (day < w->plan_first || day >= w->plan_last)
        return day_factor_of(day);
    return w->day_factor[day - w->plan_first];
}

bool
gen_rep_active(const gen_world_t *w, int32_t rep, int64_t day)
{
    return day >= w->nodes[rep].hired_day;
}

int32_t
gen_rep_team(const gen_world_t *w, int32_t rep, int64_t day)
{
    const gen_node_t *r = &w->nodes[rep];
    return r->moved_day && day >= r->moved_day ? r->moved_to : r->parent;
}

/* A rep's ability on a day: a new hire ramps up over 30 days. */
static double
rep_ability(const gen_world_t *w, int32_t rep, int64_t day, bool planned)
{
    const gen_node_t *r = &w->nodes[rep];
    if (day < r->hired_day)
        return 0;
    double a = planned ? r->plan_ability : r->ability;
    if (r->hired_day > w->cfg.start_day)
        a *= clamp(0.3 + (double)(day - r->hired_day) / 30.0, 0, 1);
    return a;
}

/* The under-performing region slides from 0.9 to 0.65 of plan over the history. */
static double
rep_under(const gen_world_t *w, int32_t rep, int64_t day)
{
    if (w->nodes[rep].under >= 1)
        return 1;
    double progress = clamp((double)(day - w->cfg.start_day) / (double)w->cfg.days, 0, 1);
    return 0.9 - 0.25 * progress;
}

static void
book_add(gen_world_t *w, int32_t rep, int32_t customer)
{
    gen_node_t *r = &w->nodes[rep];
    if (r->nbook == r->capbook) {
        r->capbook = r->capbook ? r->capbook * 2 : 64;
        r->book = realloc(r->book, r->capbook * sizeof *r->book);
        if (!r->book) {
            fprintf(stderr, "pacer-gen: out of memory\n");
            exit(2);
        }
    }
    r->book[r->nbook++] = customer;
    w->customers[customer].rep = rep;
}

static void
book_remove(gen_world_t *w, int32_t rep, int32_t customer)
{
    gen_node_t *r = &w->nodes[rep];
    for (size_t i = 0; i < r->nbook; i++)
        if (r->book[i] == customer) {
            memmove(&r->book[i], &r->book[i + 1], (r->nbook - i - 1) * sizeof *r->book);
            r->nbook--;
            return;
        }
}

int
gen_pick_line(gen_rng_t *rng)
{
    double weights[GEN_LINE_COUNT];
    for (int i = 0; i < GEN_LINE_COUNT; i++)
        weights[i] = gen_lines[i].popularity;
    return (int)gen_rng_weighted(rng, weights, GEN_LINE_COUNT);
}

int32_t
gen_customer_new(gen_world_t *w, gen_rng_t *rng, int32_t rep, int64_t at, bool existing)
{
    int32_t c = (int32_t)GEN_PUSH(w, customers);
    gen_customer_t *cu = &w->customers[c];
    cu->created_at = existing ? 0 : at;
    cu->active_day = existing ? w->cfg.start_day : INT64_MAX;
    cu->weight = gen_rng_lognormal(rng, 0, 1.0);
    cu->size = gen_rng_lognormal(rng, 0, 1.0);
    cu->line = (uint8_t)gen_pick_line(rng);
    cu->dormant = existing && gen_rng_chance(rng, 0.12);
    cu->slow_payer = gen_rng_chance(rng, 0.08);
    const gen_line_t *l = &gen_lines[cu->line];
    if (existing && !cu->dormant && gen_rng_chance(rng, l->standing_share)) {
        /* Consumables weekly to monthly, subscriptions and licences every four weeks,
           on a weekday. */
        static const int cadences[3] = {7, 14, 28};
        cu->standing = true;
        cu->standing_cadence = l->qty_median > 30 ? cadences[gen_rng_range(rng, 0, 2)] : 28;
        do
            cu->standing_next = w->cfg.start_day + gen_rng_range(rng, 0, cu->standing_cadence - 1);
        while (gen_weekday(cu->standing_next) >= 5);
        cu->standing_qty = (int32_t)clamp(
            round(gen_rng_lognormal(rng, log(l->qty_median * cu->size), 0.3)), 1, 1e6);
        cu->standing_price = (int64_t)round(l->unit_median * w->nodes[rep].price_factor *
                                            gen_rng_lognormal(rng, 0, l->unit_sigma * 0.5)) *
                             100;
        if (cu->standing_price < 100)
            cu->standing_price = 100;
        if (gen_rng_chance(rng, 0.15))
            cu->standing_change = w->cfg.start_day + gen_rng_range(rng, 20, 80);
        cu->weight *= 0.3;
    }
    customer_name(rng, cu->name);
    book_add(w, rep, c);
    return c;
}

int64_t
gen_business_time(gen_rng_t *rng, int64_t day)
{
    /* Mornings and afternoons, a few evenings. */
    double u = gen_rng_uniform(rng);
    double hour;
    if (u < 0.45)
        hour = gen_rng_between(rng, 9.0, 12.0);
    else if (u < 0.92)
        hour = gen_rng_between(rng, 13.5, 18.5);
    else
        hour = gen_rng_between(rng, 18.5, 22.0);
    return gen_local_ms(day, (int64_t)(hour * GEN_HOUR_MS));
}

/* A working day in [lo, hi], uniformly; the last working day before lo if none. */
static int64_t
working_day_between(gen_rng_t *rng, int64_t lo, int64_t hi)
{
    int64_t days[64];
    int n = 0;
    for (int64_t d = lo; d <= hi && n < 64; d++)
        if (gen_is_working(d))
            days[n++] = d;
    if (n > 0)
        return days[gen_rng_range(rng, 0, n - 1)];
    int64_t d = lo - 1;
    while (!gen_is_working(d))
        d--;
    return d;
}

int32_t
gen_pick_customer(gen_world_t *w, gen_rng_t *rng, int32_t rep, int64_t day)
{
    gen_node_t *r = &w->nodes[rep];
    double total = 0;
    for (size_t i = 0; i < r->nbook; i++) {
        const gen_customer_t *c = &w->customers[r->book[i]];
        if (!c->dormant && !c->fake && c->active_day <= day)
            total += c->weight;
    }
    if (total <= 0)
        return -1;
    double x = gen_rng_uniform(rng) * total;
    int32_t last = -1;
    for (size_t i = 0; i < r->nbook; i++) {
        const gen_customer_t *c = &w->customers[r->book[i]];
        if (c->dormant || c->fake || c->active_day > day)
            continue;
        last = r->book[i];
        if (x < c->weight)
            return last;
        x -= c->weight;
    }
    return last;
}

void
gen_activity_new(gen_world_t *w, int64_t at, int32_t rep, int32_t customer, int32_t deal, int kind)
{
    size_t i = GEN_PUSH(w, acts);
    w->acts[i] = (gen_activity_t){at, rep, customer, deal, (uint8_t)kind};
}

static int
random_activity_kind(gen_rng_t *rng)
{
    static const double weights[4] = {0.30, 0.50, 0.12, 0.08}; /* visit call quote demo */
    return (int)gen_rng_weighted(rng, weights, 4);
}

int32_t
gen_deal_new(gen_world_t *w, gen_rng_t *rng, int32_t rep, int32_t customer, int line, int64_t day)
{
    int32_t d = (int32_t)GEN_PUSH(w, deals);
    gen_deal_t *deal = &w->deals[d];
    const gen_line_t *l = &gen_lines[line];
    const gen_node_t *r = &w->nodes[rep];
    double size = w->customers[customer].size;
    deal->at = gen_business_time(rng, day);
    deal->rep = rep;
    deal->customer = customer;
    deal->line = (uint8_t)line;
    /* Large customers buy more and get a little discount. */
    double discount = pow(size, -0.04);
    double price =
        l->unit_median * r->price_factor * discount * gen_rng_lognormal(rng, 0, l->unit_sigma);
    if (l->qty_median > 0) {
        deal->quantity = (int32_t)clamp(
            round(gen_rng_lognormal(rng, log(l->qty_median * size), l->qty_sigma)), 1, 1e6);
        deal->unit_price = (int64_t)(price < 1 ? 1 : round(price)) * 100;
        deal->amount = deal->unit_price * deal->quantity;
    } else {
        double amount = price * pow(size, 0.4);
        deal->amount = (int64_t)(amount < 10 ? 1 : round(amount / 10)) * 1000;
    }
    deal->margin =
        (int64_t)round((double)deal->amount * l->margin_rate * gen_rng_lognormal(rng, 0, 0.12));
    return d;
}

void
gen_deal_reprice(gen_world_t *w, int32_t d, int64_t unit_price)
{
    gen_deal_t *deal = &w->deals[d];
    double rate = deal->amount > 0 ? (double)deal->margin / (double)deal->amount : 0;
    if (deal->quantity > 0) {
        deal->unit_price = unit_price < 100 ? 100 : unit_price;
        deal->amount = deal->unit_price * deal->quantity;
    } else
        deal->amount = unit_price < 1000 ? 1000 : unit_price;
    deal->margin = (int64_t)round((double)deal->amount * rate);
}

/* A working day in [lo, hi], uniformly; else the first after hi up to last; else last. */
static int64_t
trail_day(gen_rng_t *rng, int64_t lo, int64_t hi, int64_t last)
{
    int64_t days[64];
    int n = 0;
    for (int64_t d = lo; d <= hi && n < 64; d++)
        if (gen_is_working(d))
            days[n++] = d;
    if (n > 0)
        return days[gen_rng_range(rng, 0, n - 1)];
    for (int64_t d = hi + 1; d < last; d++)
        if (gen_is_working(d))
            return d;
    return last;
}

void
gen_deal_trail(gen_world_t *w, gen_rng_t *rng, int32_t d, int count, int span)
{
    gen_deal_t deal = w->deals[d];
    int64_t day = gen_day_of(deal.at);
    /* One sale in ten is signed after a silence: its trail ends 15-28 days before. */
    bool silence = gen_rng_chance(rng, 0.1);
    for (int i = 0; i < count; i++) {
        /* The last step is usually a quote a few days before; the rest earlier. */
        bool last = i == count - 1;
        int kind = last && gen_rng_chance(rng, 0.7) ? GEN_ACT_QUOTE : random_activity_kind(rng);
        int64_t aday = silence ? trail_day(rng, day - 28, day - 15, day)
                       : last  ? trail_day(rng, day - 5, day, day)
                               : trail_day(rng, day - span, day - 1, day);
        if (aday < w->cfg.start_day) /* nothing before the history: into its first days */
            aday = trail_day(rng, w->cfg.start_day, day, day);
        int64_t at = gen_business_time(rng, aday);
        if (at >= deal.at)
            at = deal.at - gen_rng_range(rng, 10, 240) * 60000;
        if (at < w->t0)
            at = w->t0 + (deal.at - w->t0) / 2;
        gen_activity_new(w, at, deal.rep, deal.customer, -1, kind);
    }
}

void
gen_deal_terms(gen_world_t *w, gen_rng_t *rng, int32_t d)
{
    gen_deal_t *deal = &w->deals[d];
    const gen_line_t *l = &gen_lines[deal->line];
    const gen_customer_t *c = &w->customers[deal->customer];
    deal->pay2_at = 0;
    deal->pay1_permille = 1000;
    if (gen_rng_chance(rng, l->cash_share)) {
        deal->due_at = 0;
        deal->pay_at = deal->at + gen_rng_range(rng, 60, 7200) * 1000;
        return;
    }
    int terms = l->terms_days;
    deal->due_at = deal->at + terms * GEN_DAY_MS;
    int64_t day = gen_day_of(deal->at);
    int64_t due_day = gen_day_of(deal->due_at);
    double u = gen_rng_uniform(rng);
    int64_t pay_day;
    if (c->slow_payer ? u < 0.7 : u >= 0.83 && u < 0.95) /* late, at most 7 days */
        pay_day = working_day_between(rng, due_day + 1, due_day + 6);
    else if (!c->slow_payer && u >= 0.95) { /* two instalments */
        pay_day = working_day_between(rng, day + 2, day + terms / 2);
        deal->pay1_permille = (uint16_t)gen_rng_range(rng, 300, 700);
        int64_t second = working_day_between(rng, day + terms / 2 + 1, due_day + 5);
        deal->pay2_at = gen_business_time(rng, second);
    } else
        pay_day = working_day_between(rng, day + (int64_t)ceil(terms * 0.15), due_day - 1);
    deal->pay_at = gen_business_time(rng, pay_day);
    if (deal->pay_at <= deal->at)
        deal->pay_at = deal->at + GEN_HOUR_MS;
    if (deal->pay2_at && deal->pay2_at <= deal->pay_at)
        deal->pay2_at = deal->pay_at + GEN_HOUR_MS;
}

/* Refunds, cancellations, corrections, second orders, follow-up activities. */
static void
deal_follow_ups(gen_world_t *w, gen_rng_t *rng, int32_t d, bool standing)
{
    gen_deal_t *deal = &w->deals[d];
    int64_t day = gen_day_of(deal->at);
    double u = gen_rng_uniform(rng);
    double refund_p = standing ? 0.01 : 0.025, cancel_p = standing ? 0 : 0.012;
    double correct_p = standing ? 0 : 0.004;
    if (u < refund_p) {
        int64_t rday = working_day_between(rng, day + 3, day + 45);
        deal->refund_at = gen_business_time(rng, rday);
        deal->refund_permille = (uint16_t)gen_rng_range(rng, 50, 400);
        deal->refund_reason = (uint8_t)gen_rng_range(rng, 0, 255);
    } else if (u < refund_p + cancel_p) {
        deal->cancel_at = deal->at + gen_rng_range(rng, 3600, 10 * 86400) * 1000;
        deal->cancel_reason = (uint8_t)gen_rng_range(rng, 0, 255);
        deal->pay_at = deal->pay2_at = 0;
    } else if (u < refund_p + cancel_p + correct_p && deal->quantity > 1) {
        /* Booked with the wrong quantity: cancelled and booked again. */
        deal->cancel_at = deal->at + gen_rng_range(rng, 600, 20 * 3600) * 1000;
        deal->cancel_reason = (uint8_t)gen_rng_range(rng, 0, 255);
        deal->pay_at = deal->pay2_at = 0;
        gen_deal_t old = *deal;
        int32_t again = gen_deal_new(w, rng, old.rep, old.customer, old.line, day);
        gen_deal_t *a = &w->deals[again];
        int32_t delta = (int32_t)gen_rng_range(rng, 1, old.quantity / 3 + 1);
        a->quantity = gen_rng_chance(rng, 0.5) || old.quantity <= delta ? old.quantity + delta
                                                                        : old.quantity - delta;
        a->unit_price = old.unit_price;
        a->amount = a->unit_price * a->quantity;
        a->margin =
            old.amount ? (int64_t)round((double)old.margin * (double)a->amount / (double)old.amount)
                       : 0;
        a->at = old.cancel_at + gen_rng_range(rng, 5, 60) * 60000;
        a->flags |= GEN_DEAL_SIBLING;
        gen_deal_terms(w, rng, again);
        return;
    }
    deal = &w->deals[d];
    if (!standing && gen_rng_chance(rng, 0.015)) {
        /* A second order of the same customer and line that day, another quantity. */
        gen_deal_t old = *deal;
        int32_t second = gen_deal_new(w, rng, old.rep, old.customer, old.line, day);
        gen_deal_t *s = &w->deals[second];
        if (old.quantity > 0) {
            if (s->quantity == old.quantity)
                s->quantity = old.quantity + (int32_t)gen_rng_range(rng, 1, 3);
            s->amount = s->unit_price * s->quantity;
        } else if (s->amount == old.amount)
            s->amount += 100000;
        s->at = old.at + gen_rng_range(rng, 20, 300) * 60000;
        s->flags |= GEN_DEAL_SIBLING;
        gen_deal_terms(w, rng, second);
    }
    deal = &w->deals[d];
    if (gen_rng_chance(rng, 0.15)) {
        int64_t fday = working_day_between(rng, day + 1, day + 10);
        gen_activity_new(w, gen_business_time(rng, fday), deal->rep, deal->customer, d,
                         gen_rng_chance(rng, 0.6) ? GEN_ACT_CALL : GEN_ACT_VISIT);
    }
}

/* ---- the organisation ------------------------------------------------------------ */

static int32_t
node_new(gen_world_t *w, int kind, int32_t parent)
{
    int32_t n = (int32_t)GEN_PUSH(w, nodes);
    gen_node_t *node = &w->nodes[n];
    node->kind = (uint8_t)kind;
    node->parent = parent;
    node->region = parent >= 0 ? (kind == GEN_REGION ? n : w->nodes[parent].region) : -1;
    node->defined_at = w->t0;
    node->under = 1;
    node->moved_to = node->moved_from = -1;
    return n;
}

static void
rep_init(gen_world_t *w, gen_rng_t *rng, int32_t n, int64_t hired_day)
{
    gen_node_t *r = &w->nodes[n];
    r->ability = clamp(gen_rng_lognormal(rng, 0, 0.4), 0.35, 2.8);
    r->plan_ability = r->ability * gen_rng_lognormal(rng, 0, 0.15);
    r->price_factor = gen_rng_lognormal(rng, 0, 0.08);
    r->new_rate = 0.22 * sqrt(r->ability);
    r->hired_day = hired_day;
    r->under = w->nodes[r->region].under;
    char id[48], name[96];
    person_new(w, rng, id, name);
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->owner, sizeof r->owner, "%s", id);
}

void
gen_world_build(gen_world_t *w)
{
    gen_rng_t *rng = &w->base;
    const gen_config_t *cfg = &w->cfg;
    int32_t company = node_new(w, GEN_COMPANY, -1);
    snprintf(w->nodes[company].id, sizeof w->nodes[company].id, "acme");
    snprintf(w->nodes[company].name, sizeof w->nodes[company].name, "艾克美科技 Acme Technology");
    char id[48], name[96];
    person_new(w, rng, id, name);
    snprintf(w->nodes[company].owner, sizeof w->nodes[company].owner, "%s", id);

    int under = cfg->regions >= 2 ? (int)gen_rng_range(rng, 0, cfg->regions - 1) : -1;
    for (int ri = 0; ri < cfg->regions; ri++) {
        int32_t region = node_new(w, GEN_REGION, company);
        const gen_region_name_t *rn = ri < (int)COUNT(region_names) ? &region_names[ri] : NULL;
        gen_node_t *rg = &w->nodes[region];
        if (rn) {
            snprintf(rg->id, sizeof rg->id, "%s", rn->id);
            snprintf(rg->name, sizeof rg->name, "%s", rn->name);
        } else {
            snprintf(rg->id, sizeof rg->id, "region-%d", ri + 1);
            snprintf(rg->name, sizeof rg->name, "第%d大区 Region %d", ri + 1, ri + 1);
        }
        person_new(w, rng, id, name);
        snprintf(w->nodes[region].owner, sizeof w->nodes[region].owner, "%s", id);
        if (ri == under) {
            w->nodes[region].under = 0.9;
            w->under_region = region;
        }
        for (int ti = 0; ti < cfg->teams; ti++) {
            int32_t team = node_new(w, GEN_TEAM, region);
            gen_node_t *tm = &w->nodes[team];
            if (rn && ti < 4) {
                snprintf(tm->id, sizeof tm->id, "%s", rn->teams[ti][0]);
                snprintf(tm->name, sizeof tm->name, "%s", rn->teams[ti][1]);
            } else {
                char rid[40];
                snprintf(rid, sizeof rid, "%.39s", w->nodes[region].id);
                snprintf(tm->id, sizeof tm->id, "%.32s-team-%d", rid, (ti + 1) % 100);
                snprintf(tm->name, sizeof tm->name, "%s %d组", rid, (ti + 1) % 100);
            }
            person_new(w, rng, id, name);
            snprintf(w->nodes[team].owner, sizeof w->nodes[team].owner, "%s", id);
            int lo = cfg->reps - 2 < 1 ? 1 : cfg->reps - 2;
            int nreps = (int)gen_rng_range(rng, lo, cfg->reps + 2);
            for (int k = 0; k < nreps; k++) {
                int32_t rep = node_new(w, GEN_REP, team);
                rep_init(w, rng, rep, cfg->start_day);
            }
        }
    }

    /* Customer books of the reps there from the start. */
    for (size_t n = 0; n < w->nnodes; n++) {
        if (w->nodes[n].kind != GEN_REP)
            continue;
        int count = (int)clamp(
            round(gen_rng_lognormal(rng, log(60 * sqrt(w->nodes[n].ability)), 0.3)), 20, 200);
        for (int i = 0; i < count; i++)
            gen_customer_new(w, rng, (int32_t)n, 0, true);
    }

    /* With a second month: a hire and a transfer on its first working day. */
    if (cfg->days < 45)
        return;
    int64_t day2 = gen_next_month(cfg->start_day);
    while (!gen_is_working(day2))
        day2++;
    if (day2 >= w->end_day - 5)
        return;
    int32_t teams[256];
    int nteams = 0;
    for (size_t n = 0; n < w->nnodes && nteams < 256; n++)
        if (w->nodes[n].kind == GEN_TEAM)
            teams[nteams++] = (int32_t)n;
    int32_t hire_team = teams[gen_rng_range(rng, 0, nteams - 1)];
    int32_t hire = node_new(w, GEN_REP, hire_team);
    rep_init(w, rng, hire, day2);
    w->nodes[hire].defined_at = gen_local_ms(day2, 8 * GEN_HOUR_MS);
    w->nodes[hire].new_rate *= 1.2;
    w->hire = hire;

    if (cfg->teams < 2)
        return;
    int32_t candidates[4096];
    int ncand = 0;
    for (size_t n = 0; n < w->nnodes && ncand < 4096; n++)
        if (w->nodes[n].kind == GEN_REP && (int32_t)n != hire)
            candidates[ncand++] = (int32_t)n;
    int32_t mover = candidates[gen_rng_range(rng, 0, ncand - 1)];
    gen_node_t *m = &w->nodes[mover];
    int32_t region = w->nodes[m->parent].region;
    int32_t to = -1;
    int seen = 0;
    for (int i = 0; i < nteams; i++)
        if (w->nodes[teams[i]].region == region && teams[i] != m->parent &&
            gen_rng_chance(rng, 1.0 / ++seen))
            to = teams[i];
    if (to < 0)
        return;
    m->moved_day = gen_next_month(cfg->start_day);
    m->moved_from = m->parent;
    m->moved_to = to;
    w->mover = mover;
}

/* ---- the day-by-day simulation ------------------------------------------------------ */

static void
rep_new_customers(gen_world_t *w, int32_t rep, int64_t day)
{
    gen_rng_t *rng = &w->base;
    gen_node_t *r = &w->nodes[rep];
    double rate = r->new_rate;
    int most = MAX_NEW_PER_DAY - 1;
    if (r->hired_day > w->cfg.start_day && day - r->hired_day < 21) {
        rate = 1.0; /* a new hire builds a book */
        most = MAX_NEW_PER_DAY;
    }
    if (!gen_is_working(day))
        rate *= 0.05;
    int n = gen_rng_poisson(rng, rate * gen_rng_gamma(rng, 2.0) / 2.0);
    if (n > most)
        n = most;
    for (int i = 0; i < n; i++) {
        int64_t at = gen_business_time(rng, day);
        int32_t c = gen_customer_new(w, rng, rep, at, false);
        gen_activity_new(w, at + gen_rng_range(rng, 5, 600) * 60000, rep, c, -1, GEN_ACT_CALL);
        int more = gen_rng_poisson(rng, 1.2);
        for (int k = 0; k < more; k++) {
            int64_t aday = working_day_between(rng, day + 2, day + 25);
            gen_activity_new(w, gen_business_time(rng, aday), rep, c, -1,
                             random_activity_kind(rng));
        }
        if (!gen_rng_chance(rng, 0.35))
            continue;
        /* A first deal after a quote. */
        int64_t first = working_day_between(rng, day + 5, day + 40);
        gen_customer_t *cu = &w->customers[c];
        cu->active_day = first + 1;
        int32_t d = gen_deal_new(w, rng, rep, c, cu->line, first);
        gen_deal_trail(w, rng, d, 1, 3);
        gen_deal_terms(w, rng, d);
        deal_follow_ups(w, rng, d, false);
    }
}

static void
rep_deals(gen_world_t *w, int32_t rep, int64_t day)
{
    gen_rng_t *rng = &w->base;
    double lambda = BASE_DEALS_PER_DAY * rep_ability(w, rep, day, false) * rep_under(w, rep, day) *
                    day_factor(w, day) * gen_rng_gamma(rng, 4.0) / 4.0;
    int n = gen_rng_poisson(rng, lambda);
    for (int i = 0; i < n; i++) {
        int32_t c = gen_pick_customer(w, rng, rep, day);
        if (c < 0)
            return;
        int line = gen_rng_chance(rng, 0.7) ? w->customers[c].line : gen_pick_line(rng);
        int32_t d = gen_deal_new(w, rng, rep, c, line, day);
        gen_deal_t *deal = &w->deals[d];
        double tail = gen_rng_uniform(rng);
        bool big = false;
        if (tail < 0.006) { /* a key-account volume deal */
            big = true;
            deal->flags |= GEN_DEAL_BIG;
            if (deal->quantity > 0) {
                deal->quantity = (int32_t)(deal->quantity * gen_rng_between(rng, 8, 30));
                deal->unit_price = (int64_t)round((double)deal->unit_price * 0.0085) * 100;
                if (deal->unit_price < 100)
                    deal->unit_price = 100;
                deal->amount = deal->unit_price * deal->quantity;
                deal->margin =
                    (int64_t)round((double)deal->amount * gen_lines[line].margin_rate * 0.8);
            } else
                gen_deal_reprice(
                    w, d, (int64_t)(deal->amount * gen_rng_between(rng, 2.5, 5)) / 1000 * 1000);
        } else if (tail < 0.009 && line <= 1) /* a premium configuration (hw, sw) */
            gen_deal_reprice(
                w, d,
                (int64_t)round((double)deal->unit_price * gen_rng_between(rng, 1.4, 1.8) / 100) *
                    100);
        int count = big ? 3 + gen_rng_poisson(rng, 2) : 1 + gen_rng_poisson(rng, 1.3);
        if (count > 5 && !big)
            count = 5;
        gen_deal_trail(w, rng, d, count, big ? 30 : 21);
        if (big) { /* a key account always sees a visit */
            int64_t vday = working_day_between(rng, day - 14, day - 3);
            gen_activity_new(w, gen_business_time(rng, vday), rep, c, -1, GEN_ACT_VISIT);
        }
        gen_deal_terms(w, rng, d);
        deal_follow_ups(w, rng, d, false);
    }
}

static void
rep_standing_orders(gen_world_t *w, int32_t rep, int64_t day)
{
    gen_rng_t *rng = &w->base;
    if (!gen_is_working(day))
        return;
    gen_node_t *r = &w->nodes[rep];
    for (size_t i = 0; i < r->nbook; i++) {
        int32_t c = r->book[i];
        gen_customer_t *cu = &w->customers[c];
        if (!cu->standing || cu->standing_next > day)
            continue;
        /* After a holiday the order comes on the next working day, and the one after
           it a whole cadence later: never two within a cadence. */
        while (cu->standing_next < day + cu->standing_cadence)
            cu->standing_next += cu->standing_cadence;
        if (cu->standing_change && day >= cu->standing_change) {
            int32_t q = (int32_t)round(cu->standing_qty * gen_rng_between(rng, 0.6, 1.6));
            cu->standing_qty = q == cu->standing_qty ? q + 1 : q < 1 ? 1 : q;
            cu->standing_change = 0;
        }
        int32_t d = gen_deal_new(w, rng, rep, c, cu->line, day);
        gen_deal_t *deal = &w->deals[d];
        deal->flags |= GEN_DEAL_STANDING;
        double rate = gen_lines[cu->line].margin_rate;
        deal->quantity = cu->standing_qty;
        deal->unit_price = cu->standing_price;
        deal->amount = deal->unit_price * deal->quantity;
        deal->margin = (int64_t)round((double)deal->amount * rate);
        /* Key accounts hear from their rep; small repeat orders mostly do not. */
        if (gen_rng_chance(rng, 0.25) ||
            (double)deal->amount >= 2 * gen_line_typical_amount(cu->line))
            gen_deal_trail(w, rng, d, 1, 14);
        gen_deal_terms(w, rng, d);
        deal_follow_ups(w, rng, d, true);
    }
}

static void
rep_inbound_and_activities(gen_world_t *w, int32_t rep, int64_t day)
{
    gen_rng_t *rng = &w->base;
    gen_node_t *r = &w->nodes[rep];
    bool working = gen_is_working(day);
    if (working && r->nbook > 0 && gen_rng_chance(rng, 0.012)) {
        /* A dormant customer reorders a few consumables, unprompted. */
        int32_t c = r->book[gen_rng_range(rng, 0, (int64_t)r->nbook - 1)];
        if (w->customers[c].dormant) {
            int32_t d = gen_deal_new(w, rng, rep, c, GEN_LINE_COUNT - 1, day);
            gen_deal_t *deal = &w->deals[d];
            deal->flags |= GEN_DEAL_INBOUND;
            deal->quantity = (int32_t)gen_rng_range(rng, 2, 20);
            deal->amount = deal->unit_price * deal->quantity;
            deal->margin = (int64_t)round((double)deal->amount * gen_lines[deal->line].margin_rate);
            gen_deal_terms(w, rng, d);
        }
    }
    int n =
        gen_rng_poisson(rng, 2.2 * sqrt(rep_ability(w, rep, day, false)) * (working ? 1 : 0.05));
    for (int i = 0; i < n && r->nbook > 0; i++) {
        int32_t c = r->book[gen_rng_range(rng, 0, (int64_t)r->nbook - 1)];
        const gen_customer_t *cu = &w->customers[c];
        int64_t at = gen_business_time(rng, day);
        if (cu->dormant || cu->fake || (cu->created_at && cu->created_at > at))
            continue;
        gen_activity_new(w, at, rep, c, -1, random_activity_kind(rng));
    }
}

/* Customers move to a teammate now and then; a hire inherits a few. */
static void
rebalance_books(gen_world_t *w, int64_t day)
{
    gen_rng_t *rng = &w->base;
    bool month_start = day != w->cfg.start_day && gen_month_start(day) == day;
    bool hire_day = w->hire >= 0 && w->nodes[w->hire].hired_day == day;
    if (!month_start && !hire_day)
        return;
    /* The active reps of each team, in node order: team t's are
       members[first[t]] to members[first[t + 1] - 1]. */
    size_t nn = w->nnodes;
    size_t *first = calloc(nn + 1, sizeof *first), *fill = calloc(nn, sizeof *fill);
    int32_t *members = calloc(nn, sizeof *members);
    if (!first || !fill || !members) {
        fprintf(stderr, "pacer-gen: out of memory\n");
        exit(2);
    }
    for (size_t n = 0; n < nn; n++)
        if (w->nodes[n].kind == GEN_REP && gen_rep_active(w, (int32_t)n, day))
            first[gen_rep_team(w, (int32_t)n, day) + 1]++;
    for (size_t t = 0; t < nn; t++)
        first[t + 1] += first[t];
    for (size_t n = 0; n < nn; n++)
        if (w->nodes[n].kind == GEN_REP && gen_rep_active(w, (int32_t)n, day)) {
            size_t t = (size_t)gen_rep_team(w, (int32_t)n, day);
            members[first[t] + fill[t]++] = (int32_t)n;
        }
    int32_t mates[64];
    for (size_t n = 0; n < nn; n++) {
        if (w->nodes[n].kind != GEN_REP || !gen_rep_active(w, (int32_t)n, day))
            continue;
        size_t team = (size_t)gen_rep_team(w, (int32_t)n, day);
        int nmates = 0;
        for (size_t k = first[team]; k < first[team + 1] && nmates < 64; k++)
            if (members[k] != (int32_t)n)
                mates[nmates++] = members[k];
        if (nmates == 0)
            continue;
        bool hired_today = w->nodes[n].hired_day == day && day > w->cfg.start_day;
        if (hired_today) {
            for (int k = 0; k < 8; k++) {
                gen_node_t *from = &w->nodes[mates[gen_rng_range(rng, 0, nmates - 1)]];
                if (from->nbook < 10)
                    continue;
                int32_t c = from->book[gen_rng_range(rng, 0, (int64_t)from->nbook - 1)];
                if (w->customers[c].dormant)
                    continue;
                book_remove(w, (int32_t)(from - w->nodes), c);
                book_add(w, (int32_t)n, c);
            }
            continue;
        }
        if (day == w->cfg.start_day || gen_month_start(day) != day)
            continue;
        gen_node_t *r = &w->nodes[n];
        for (size_t i = 0; i < r->nbook; i++) {
            int32_t c = r->book[i];
            if (w->customers[c].dormant || !gen_rng_chance(rng, 0.015))
                continue;
            int32_t to = mates[gen_rng_range(rng, 0, nmates - 1)];
            book_remove(w, (int32_t)n, c);
            book_add(w, to, c);
            i--;
        }
    }
    free(first);
    free(fill);
    free(members);
}

/* The simulation runs 30 days past the end, so that the trails of deals
   just after the history are in it; output drops what is after the end. */
void
gen_world_simulate(gen_world_t *w)
{
    for (int64_t day = w->cfg.start_day; day < w->end_day + 30; day++) {
        rebalance_books(w, day);
        for (size_t n = 0; n < w->nnodes; n++) {
            int32_t rep = (int32_t)n;
            if (w->nodes[n].kind != GEN_REP || !gen_rep_active(w, rep, day))
                continue;
            rep_new_customers(w, rep, day);
            rep_deals(w, rep, day);
            rep_standing_orders(w, rep, day);
            rep_inbound_and_activities(w, rep, day);
        }
    }
}

/* ---- targets ------------------------------------------------------------------------ */

size_t
gen_plan_month(const gen_world_t *w, int64_t day)
{
    size_t i = 0;
    for (int64_t m = w->plan_first; m < w->plan_last; m = gen_next_month(m), i++)
        if (day < gen_next_month(m))
            return i;
    return w->plan_months - 1;
}

static int64_t
round_money(double fen, double unit)
{
    return (int64_t)round(fen / unit) * (int64_t)unit;
}

static void
period_name(int64_t day, bool quarter, char out[12])
{
    int y, m, d;
    gen_civil_from_days(day, &y, &m, &d);
    if (quarter)
        snprintf(out, 12, "%04u-Q%u", (unsigned)y % 10000u, (unsigned)((m - 1) / 3 + 1) % 5u);
    else
        snprintf(out, 12, "%04u-%02u", (unsigned)y % 10000u, (unsigned)m % 13u);
}

static gen_target_t *
target_new(gen_world_t *w, int64_t at, int32_t scope, int metric, const char *period)
{
    size_t i = GEN_PUSH(w, targets); /* may move the array: index it after */
    gen_target_t *t = &w->targets[i];
    t->at = at;
    t->scope = scope;
    t->metric = (uint8_t)metric;
    snprintf(t->period, sizeof t->period, "%s", period);
    return t;
}

/* Floor, target and stretch. */
typedef struct {
    int64_t tiers[3];
} tiers_t;

static void
rep_tiers(const gen_world_t *w, int32_t rep, int metric, int64_t from, int64_t to, tiers_t *out)
{
    memset(out, 0, sizeof *out);
    for (int64_t m = from; m < to; m = gen_next_month(m)) {
        double expected;
        if (metric == GEN_METRIC_REVENUE)
            expected = w->plan[(size_t)rep * w->plan_months + gen_plan_month(w, m)];
        else {
            int wd = 0;
            for (int64_t d = m; d < gen_next_month(m); d++)
                wd += gen_is_working(d) && d >= w->nodes[rep].hired_day;
            expected = w->nodes[rep].new_rate * wd;
        }
        if (expected <= 0)
            continue;
        if (metric == GEN_METRIC_REVENUE) {
            int64_t target = round_money(expected * 1.05, 100000);
            out->tiers[0] += round_money((double)target * 0.9, 100000);
            out->tiers[1] += target;
            out->tiers[2] += round_money((double)target * 1.15, 100000);
        } else {
            int64_t target = (int64_t)round(expected * 1.1);
            if (target < 1)
                target = 1;
            out->tiers[0] += (int64_t)floor((double)target * 0.8);
            out->tiers[1] += target;
            out->tiers[2] += (int64_t)ceil((double)target * 1.3);
        }
    }
}

/* Every node's tiers for the months [from, to): reps' own, summed up the
   tree with the membership of `day`. Without known_hires, a rep hired after
   `day` is left out (the plan does not know of the hire yet). */
static void
sum_tiers(const gen_world_t *w, int metric, int64_t from, int64_t to, int64_t day, bool known_hires,
          tiers_t *sums)
{
    memset(sums, 0, w->nnodes * sizeof *sums);
    for (size_t n = 0; n < w->nnodes; n++) {
        int32_t rep = (int32_t)n;
        if (w->nodes[n].kind != GEN_REP)
            continue;
        if (!known_hires && w->nodes[n].hired_day > day)
            continue;
        tiers_t t;
        rep_tiers(w, rep, metric, from, to, &t);
        for (int32_t a = rep; a >= 0;
             a = w->nodes[a].kind == GEN_REP ? gen_rep_team(w, a, day) : w->nodes[a].parent)
            for (int k = 0; k < 3; k++)
                sums[a].tiers[k] += t.tiers[k];
    }
}

static void
emit_tiers(gen_world_t *w, int64_t at, int metric, const char *period, const tiers_t *sums,
           const char *reason)
{
    for (size_t n = 0; n < w->nnodes; n++) {
        const gen_node_t *node = &w->nodes[n];
        if (metric == GEN_METRIC_NEW_CUSTOMERS && node->kind != GEN_REP && node->kind != GEN_TEAM)
            continue;
        if (sums[n].tiers[1] == 0)
            continue;
        int64_t when = at > node->defined_at ? at : node->defined_at + GEN_HOUR_MS;
        gen_target_t *t = target_new(w, when, (int32_t)n, metric, period);
        t->floor = sums[n].tiers[0];
        t->target = sums[n].tiers[1];
        t->stretch = sums[n].tiers[2];
        /* A rep's target is set by the team lead, a team's by the region's
           director, a region's and the company's by the company's owner. */
        int32_t author = node->kind == GEN_REP    ? gen_rep_team(w, (int32_t)n, gen_day_of(when))
                         : node->kind == GEN_TEAM ? node->parent
                                                  : 0;
        snprintf(t->author, sizeof t->author, "%s", w->nodes[author].owner);
        snprintf(t->reason, sizeof t->reason, "%s", reason);
    }
}

static void
adjust_or_set(gen_world_t *w, int64_t at, int32_t scope, const char *period, const tiers_t *now,
              int32_t author, const char *reason, bool adjusted)
{
    gen_target_t *t = target_new(w, at, scope, GEN_METRIC_REVENUE, period);
    t->adjusted = adjusted;
    t->floor = now->tiers[0];
    t->target = now->tiers[1];
    t->stretch = now->tiers[2];
    snprintf(t->author, sizeof t->author, "%s", w->nodes[author].owner);
    snprintf(t->reason, sizeof t->reason, "%s", reason);
}

/* The hire and the transfer during a quarter: the hire gets a quarter target
   and the chain above it is adjusted; the rep who moves takes the months from
   the move on to the new team. cur holds every node's quarter tiers. */
static void
quarter_changes(gen_world_t *w, int64_t q, int64_t q_end, int64_t as_of, const char *period,
                tiers_t *cur)
{
    int32_t hire = w->hire;
    if (hire >= 0 && w->nodes[hire].hired_day >= q && w->nodes[hire].hired_day < q_end &&
        w->nodes[hire].hired_day > as_of) {
        gen_node_t *h = &w->nodes[hire];
        int64_t at = gen_local_ms(h->hired_day, 9 * GEN_HOUR_MS);
        tiers_t t;
        rep_tiers(w, hire, GEN_METRIC_REVENUE, q, q_end, &t);
        int32_t team = h->parent;
        char why[320];
        snprintf(why, sizeof why, "new hire %s: ramp-up plan", h->name);
        adjust_or_set(w, at, hire, period, &t, team, why, false);
        snprintf(why, sizeof why, "new hire %s joins %s", h->name, w->nodes[team].name);
        for (int32_t a = team; a >= 0; a = w->nodes[a].parent) {
            for (int k = 0; k < 3; k++)
                cur[a].tiers[k] += t.tiers[k];
            adjust_or_set(w, at, a, period, &cur[a], a == 0 ? 0 : w->nodes[a].parent, why, true);
        }
    }
    int32_t mover = w->mover;
    if (mover >= 0 && w->nodes[mover].moved_day >= q && w->nodes[mover].moved_day < q_end &&
        w->nodes[mover].moved_day > as_of) {
        gen_node_t *m = &w->nodes[mover];
        int64_t at = gen_local_ms(m->moved_day, 9 * GEN_HOUR_MS);
        tiers_t own;
        rep_tiers(w, mover, GEN_METRIC_REVENUE, gen_month_start(m->moved_day), q_end, &own);
        for (int k = 0; k < 3; k++) {
            cur[m->moved_from].tiers[k] -= own.tiers[k];
            cur[m->moved_to].tiers[k] += own.tiers[k];
        }
        char why[320];
        snprintf(why, sizeof why, "transfer of %s from %s to %s", m->name,
                 w->nodes[m->moved_from].name, w->nodes[m->moved_to].name);
        adjust_or_set(w, at, m->moved_from, period, &cur[m->moved_from],
                      w->nodes[m->moved_from].parent, why, true);
        adjust_or_set(w, at, m->moved_to, period, &cur[m->moved_to], w->nodes[m->moved_to].parent,
                      why, true);
    }
}

/* Expected deal intensity of a rep over a range of days (the plan's view). */
static double
intensity(const gen_world_t *w, int32_t rep, int64_t from, int64_t to, bool planned)
{
    double sum = 0;
    for (int64_t d = from; d < to; d++)
        sum += BASE_DEALS_PER_DAY * rep_ability(w, rep, d, planned) * day_factor(w, d) *
               (planned ? 1 : rep_under(w, rep, d));
    return sum;
}

void
gen_world_plan(gen_world_t *w)
{
    /* The plan knows each territory's revenue per unit of deal intensity (as
       if from last year's history: here, the base history's own), and each
       rep's ability with an error, but not the under-performing region's
       slump. The company's rate stands in for a rep without deals. */
    size_t nn = w->nnodes;
    double *revenue = calloc(nn, sizeof *revenue);
    double total_revenue = 0, total_units = 0;
    for (size_t i = 0; i < w->ndeals; i++) {
        const gen_deal_t *d = &w->deals[i];
        if (d->at < w->t_end && !d->cancel_at)
            revenue[d->rep] += (double)d->amount;
    }
    w->plan_months = 0;
    for (int64_t m = w->plan_first; m < w->plan_last; m = gen_next_month(m))
        w->plan_months++;
    w->plan = calloc(nn * w->plan_months, sizeof *w->plan);
    tiers_t *sums = calloc(nn, sizeof *sums);
    double *units = calloc(nn, sizeof *units);
    if (!w->plan || !sums || !revenue || !units) {
        fprintf(stderr, "pacer-gen: out of memory\n");
        exit(2);
    }
    for (size_t n = 0; n < nn; n++)
        if (w->nodes[n].kind == GEN_REP) {
            units[n] = intensity(w, (int32_t)n, w->cfg.start_day, w->end_day, false);
            total_revenue += revenue[n];
            total_units += units[n];
        }
    w->revenue_per_unit = total_units > 0 ? total_revenue / total_units : 0;
    for (size_t n = 0; n < nn; n++) {
        if (w->nodes[n].kind != GEN_REP)
            continue;
        double rate = units[n] > 0 && revenue[n] > 0 ? revenue[n] / units[n] : w->revenue_per_unit;
        size_t i = 0;
        for (int64_t m = w->plan_first; m < w->plan_last; m = gen_next_month(m), i++)
            w->plan[n * w->plan_months + i] =
                rate * intensity(w, (int32_t)n, m, gen_next_month(m), true);
    }
    free(revenue);
    free(units);

    /* Quarters: set at the quarter's start (or the history's), for the
       organisation of that day; the hire and the transfer adjust them. */
    for (int64_t q = w->plan_first; q < w->plan_last;) {
        int64_t q_end = gen_next_month(gen_next_month(gen_next_month(q)));
        int64_t at_day = q > w->cfg.start_day ? q - 3 : w->cfg.start_day;
        int64_t at = at_day == w->cfg.start_day ? w->t0 + GEN_HOUR_MS
                                                : gen_local_ms(at_day, 10 * GEN_HOUR_MS);
        int64_t as_of = q > w->cfg.start_day ? q : w->cfg.start_day;
        if (q_end > w->cfg.start_day && q < w->end_day) {
            char period[12], reason[320];
            period_name(q, true, period);
            snprintf(reason, sizeof reason, "%s plan: each rep's expected revenue plus 5%%",
                     period);
            sum_tiers(w, GEN_METRIC_REVENUE, q, q_end, as_of, false, sums);
            emit_tiers(w, at, GEN_METRIC_REVENUE, period, sums, reason);
            quarter_changes(w, q, q_end, as_of, period, sums);
        }
        q = q_end;
    }

    /* Months: set three days before each month (at the history's start for the first). */
    for (int64_t m = w->plan_first; m < w->plan_last; m = gen_next_month(m)) {
        if (gen_next_month(m) <= w->cfg.start_day || m >= w->end_day)
            continue;
        int64_t at_day = m > w->cfg.start_day ? m - 3 : w->cfg.start_day;
        int64_t at = at_day == w->cfg.start_day ? w->t0 + GEN_HOUR_MS
                                                : gen_local_ms(at_day, 10 * GEN_HOUR_MS);
        int64_t as_of = m > w->cfg.start_day ? m : w->cfg.start_day;
        char period[12], reason[320];
        period_name(m, false, period);
        for (int metric = 0; metric < 2; metric++) {
            snprintf(reason, sizeof reason, "%s plan: %s", period,
                     metric == GEN_METRIC_REVENUE ? "each rep's expected revenue plus 5%"
                                                  : "each rep's usual rate of new customers");
            /* Reps hired by the month's start are planned in it. */
            sum_tiers(w, metric, m, gen_next_month(m), as_of, true, sums);
            for (size_t n = 0; n < w->nnodes; n++)
                if (w->nodes[n].kind == GEN_REP && w->nodes[n].hired_day >= gen_next_month(m))
                    memset(&sums[n], 0, sizeof sums[n]);
            emit_tiers(w, at, metric, period, sums, reason);
        }
    }
    free(sums);
}
