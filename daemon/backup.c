/*  backup: see backup.h. */

#include "daemon/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Another pacerd may grow the map between our open and the copy's read
   transaction; each time, adopt its size and start over. */
#define BACKUP_TRIES 4

/* A failed write into dest as a store_rc_t: a full disk or quota is
   STORE_DISK_FULL, as the store says of its own writes, so a caller can
   tell "make room and run it again" from the rest. */
static int
write_rc(int e)
{
    return e == ENOSPC || e == EDQUOT ? STORE_DISK_FULL : STORE_ERROR;
}

/* 0: dest is a new or empty directory (*created: made here); -1 with a
   message otherwise. */
static int
prepare_dest(const char *dest, bool *created, char *err, size_t errlen)
{
    *created = false;
    if (mkdir(dest, 0750) == 0) {
        *created = true;
        return 0;
    }
    if (errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dest, strerror(errno));
        return -1;
    }
    DIR *dir = opendir(dest);
    if (!dir) {
        snprintf(err, errlen, "%s: %s", dest, strerror(errno));
        return -1;
    }
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(dir)))
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(dir);
    if (!empty) {
        snprintf(err, errlen, "%s is not empty: a backup goes into a new or empty directory", dest);
        return -1;
    }
    return 0;
}

static int
sync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The compacting copy into fd, retried when the map was resized.
   STORE_OK, or STORE_DISK_FULL or STORE_ERROR with a message. */
static int
copy_env(MDB_env *env, int fd, char *err, size_t errlen)
{
    int rc = 0;
    for (int tries = 0; tries < BACKUP_TRIES; tries++) {
        rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT);
        if (rc != MDB_MAP_RESIZED)
            break;
        if (mdb_env_set_mapsize(env, 0) != 0 || ftruncate(fd, 0) != 0 ||
            lseek(fd, 0, SEEK_SET) != 0) {
            rc = errno ? errno : EIO;
            break;
        }
    }
    if (rc == 0)
        return STORE_OK;
    snprintf(err, errlen, "copying the environment: %s", mdb_strerror(rc));
    return write_rc(rc);
}

/* What the copy holds: its last seq and hash, read back from the copy. */
static int
read_back(const char *dest, backup_result_t *out, char *err, size_t errlen)
{
    store_options_t opts = {.read_only = true};
    store_t *copy = store_open(dest, &opts, err, errlen);
    if (!copy)
        return STORE_CORRUPT;
    out->last_seq = store_last_seq(copy);
    memcpy(out->last_hash, store_last_hash(copy), STORE_HASH_BYTES);
    store_destroy(&copy);
    /* The read-only open made a lock file; the backup is the data alone. */
    char lock[4096];
    snprintf(lock, sizeof lock, "%s/lock.mdb", dest);
    unlink(lock);
    return STORE_OK;
}

int
backup_copy(const char *state_dir, const char *dest, backup_result_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char src_file[4096], partial[4096], final[4096];
    snprintf(src_file, sizeof src_file, "%s/data.mdb", state_dir);
    snprintf(partial, sizeof partial, "%s/data.mdb.partial", dest);
    snprintf(final, sizeof final, "%s/data.mdb", dest);
    struct stat st;
    if (stat(src_file, &st) != 0) {
        snprintf(err, errlen, "%s: %s (not a pacerd state directory?)", src_file, strerror(errno));
        return STORE_NOT_FOUND;
    }
    out->source_bytes = (uint64_t)st.st_size;
    store_options_t opts = {.read_only = true};
    store_t *store = store_open(state_dir, &opts, err, errlen);
    if (!store)
        return STORE_ERROR;
    MDB_env *env = store_env(store);
    int dead = 0;
    /* slots of backups killed midway pin old pages; best effort: a failure
       only leaves them pinned, and the copy is as good */
    (void)mdb_reader_check(env, &dead);
    bool created;
    if (prepare_dest(dest, &created, err, errlen) != 0) {
        store_destroy(&store);
        return STORE_ERROR;
    }
    int rc = STORE_ERROR;
    int fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        rc = write_rc(errno);
        snprintf(err, errlen, "cannot create %s: %s", partial, strerror(errno));
    } else if ((rc = copy_env(env, fd, err, errlen)) == STORE_OK) {
        rc = STORE_ERROR;
        if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
            rc = write_rc(errno);
            snprintf(err, errlen, "syncing %s: %s", partial, strerror(errno));
        } else if (rename(partial, final) != 0)
            snprintf(err, errlen, "renaming %s: %s", partial, strerror(errno));
        else {
            out->bytes = (uint64_t)st.st_size;
            rc = STORE_OK;
            /* the live file as the copy ended: it only grows, and the copy may
               hold pages appended after the first look (CI saw a copy 36 KB
               over a size read before it began) */
            if (stat(src_file, &st) == 0)
                out->source_bytes = (uint64_t)st.st_size;
        }
    }
    if (fd >= 0)
        close(fd);
    store_destroy(&store);
    if (rc == STORE_OK && sync_path(dest, O_RDONLY | O_DIRECTORY) != 0) {
        snprintf(err, errlen, "syncing %s: %s", dest, strerror(errno));
        rc = STORE_ERROR;
    }
    if (rc == STORE_OK)
        rc = read_back(dest, out, err, errlen);
    if (rc != STORE_OK) {
        unlink(partial);
        unlink(final);
        if (created)
            rmdir(dest);
    }
    return rc;
}
