/*  chain: see chain.h.

    The writer and the chain thread share the links array and three
    counters under one mutex: pushed (links the writer has filled in),
    claimed (links someone has started to hash) and done (links hashed);
    done <= claimed <= pushed. Whoever claims takes everything from claimed
    on in one go and hashes it without the lock, so a group of N events
    costs a few lock round trips, not N. A claim is only made when
    done == claimed, so `prev` is then the hash of the link before it.

    The chain thread claims what is pushed, CHAIN_CLAIM_MAX links at a
    time. chain_finish claims the rest on the writer's own thread: at the end of a group the writer
    would otherwise only wait, and the chain thread may not even be
    running yet. */

#define _GNU_SOURCE /* pthread_setname_np */
#include "daemon/chain.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most links the chain thread claims at a time: when the writer
   reaches the end of a group, it waits for at most this many before it
   takes over (the chain thread may lose its core in the middle of a
   claim). */
#define CHAIN_CLAIM_MAX 64

struct _chain_t {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work;  /* pushed grew, or stop */
    pthread_cond_t ready; /* done grew */
    bool stop;
    /* the current chain */
    chain_link_t *links;
    uint64_t first_seq;
    int64_t recorded_at;
    uint8_t prev[STORE_HASH_BYTES]; /* hash of the link before `done` */
    size_t pushed, claimed, done;
    bool waiting; /* the writer waits on `ready` */
};

/* Claim and hash links [claimed, to). Called with the lock held and
   done == claimed; returns with it held. */
static void
hash_claim(chain_t *self, size_t to)
{
    size_t from = self->claimed;
    self->claimed = to;
    chain_link_t *links = self->links;
    uint64_t first_seq = self->first_seq;
    int64_t recorded_at = self->recorded_at;
    pthread_mutex_unlock(&self->lock);
    /* Only the claimant writes prev and the hashes of [from, to). */
    const uint8_t *prev = self->prev;
    for (size_t i = from; i < to; i++) {
        store_chain_hash_principal(prev, first_seq + i, recorded_at, links[i].principal,
                                   links[i].principal_len, links[i].event, links[i].len,
                                   links[i].hash);
        prev = links[i].hash;
    }
    memcpy(self->prev, prev, STORE_HASH_BYTES);
    pthread_mutex_lock(&self->lock);
    self->done = to;
}

static void *
chain_run(void *arg)
{
    chain_t *self = arg;
    pthread_setname_np(pthread_self(), "pacerd-chain");
    pthread_mutex_lock(&self->lock);
    for (;;) {
        while (!self->stop && self->claimed == self->pushed)
            pthread_cond_wait(&self->work, &self->lock);
        if (self->stop)
            break;
        size_t to = self->pushed;
        if (to - self->claimed > CHAIN_CLAIM_MAX)
            to = self->claimed + CHAIN_CLAIM_MAX;
        hash_claim(self, to);
        if (self->waiting)
            pthread_cond_signal(&self->ready);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

chain_t *
chain_new(char *err, size_t errlen)
{
    chain_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->work, NULL);
    pthread_cond_init(&self->ready, NULL);
    int rc = pthread_create(&self->thread, NULL, chain_run, self);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the hash chain thread: %s", strerror(rc));
        pthread_cond_destroy(&self->ready);
        pthread_cond_destroy(&self->work);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    return self;
}

void
chain_destroy(chain_t **self_p)
{
    chain_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    self->stop = true;
    pthread_cond_signal(&self->work);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->thread, NULL);
    pthread_cond_destroy(&self->ready);
    pthread_cond_destroy(&self->work);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void
chain_begin(chain_t *self, const uint8_t prev[STORE_HASH_BYTES], uint64_t first_seq,
            int64_t recorded_at, chain_link_t *links)
{
    assert(self);
    pthread_mutex_lock(&self->lock);
    assert(self->done == self->pushed);
    self->links = links;
    self->first_seq = first_seq;
    self->recorded_at = recorded_at;
    memcpy(self->prev, prev, STORE_HASH_BYTES);
    self->pushed = self->claimed = self->done = 0;
    pthread_mutex_unlock(&self->lock);
}

void
chain_push(chain_t *self, size_t n)
{
    pthread_mutex_lock(&self->lock);
    assert(n >= self->pushed);
    if (n > self->pushed) {
        bool idle = self->claimed == self->pushed;
        self->pushed = n;
        if (idle)
            pthread_cond_signal(&self->work);
    }
    pthread_mutex_unlock(&self->lock);
}

void
chain_finish(chain_t *self, size_t n)
{
    pthread_mutex_lock(&self->lock);
    assert(n >= self->pushed);
    self->pushed = n;
    self->waiting = true;
    while (self->done < self->claimed) /* the chain thread is at work */
        pthread_cond_wait(&self->ready, &self->lock);
    self->waiting = false;
    if (self->claimed < n)
        hash_claim(self, n);
    pthread_mutex_unlock(&self->lock);
}
