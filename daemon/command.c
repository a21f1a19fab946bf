/*  command: see command.h. The registry of the append endpoint's
    commands, one line each. */

#include "daemon/command.h"

#include <stdio.h>

static const command_class_t *const registry[] = {
    &command_allocate,
    &command_rebuild,
    &command_tick,
};

const command_class_t *
command_class_for(wire_op_t op)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (registry[i]->op == op)
            return registry[i];
    return NULL;
}

int
command_attach(pending_t *p)
{
    const command_class_t *c = command_class_for(p->req.op);
    if (!c || p->rc != WIRE_OK)
        return 0;
    if (!(p->cmd = c->create(p))) {
        p->rc = WIRE_INTERNAL;
        snprintf(p->message, sizeof p->message, "out of memory for a %s request; retry later",
                 c->name);
        return -1;
    }
    p->cmd_class = c;
    return 0;
}

const command_class_t *
command_of(const pending_t *p)
{
    return p->rc == WIRE_OK ? p->cmd_class : NULL;
}

unsigned
command_flags(const pending_t *p)
{
    const command_class_t *c = command_of(p);
    return c ? c->flags : 0;
}
