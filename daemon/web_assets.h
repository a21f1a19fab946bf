/*  web_assets: the dashboard's files (daemon/web/), compiled into pacerd.

    cmake/web_assets.cmake turns every file of daemon/web/ into a byte
    array at build time, so pacerd serves the page with nothing installed
    beside it and no build step for the page itself: edit the file,
    rebuild, reload. */

#ifndef PACER_WEB_ASSETS_H
#define PACER_WEB_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *name; /* the file's name in daemon/web/, e.g. "index.html" */
    const unsigned char *data;
    size_t len;
} web_asset_t;

extern const web_asset_t web_assets[];
extern const size_t web_asset_count;

#endif
