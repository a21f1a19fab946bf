/*  store_verify: pacer verify's check of a whole log, on disk.

    It opens the state directory read-only in the calling process (no
    pacerd needed, and none trusted: a running daemon may keep appending),
    walks the log from seq 1 in one read transaction and checks that the
    sequence numbers have no gap, that every record decodes (store_log.h),
    that its event is well-formed msgpack, and that its hash chains to its
    predecessor's. */

#ifndef PACER_STORE_VERIFY_H
#define PACER_STORE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

/* Check the log of the state directory `dir`: STORE_OK with *checked =
   records checked (all there were when the walk began); STORE_CORRUPT with
   *checked = the good records before the first bad one, *bad_seq = that
   one, and a message saying how it fails; STORE_ERROR (the directory cannot
   be opened, or LMDB fails) with a message. */
int store_verify(const char *dir, uint64_t *checked, uint64_t *bad_seq, char *err, size_t errlen);

#endif
