// Loads FFmpeg's libraries at first use (see CFFmpeg.h for why Facet does not link them).
#include "CFFmpeg.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define FACET_STRING2(x) #x
#define FACET_STRING(x) FACET_STRING2(x)

static struct FacetFFmpegAPI api;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = 0;
static char failure[512];

/// The sonames of the FFmpeg these headers describe: a library of another major version has another ABI.
static const char *const libraries[] = {
    "libavutil.so." FACET_STRING(LIBAVUTIL_VERSION_MAJOR),
    "libswscale.so." FACET_STRING(LIBSWSCALE_VERSION_MAJOR),
    "libavcodec.so." FACET_STRING(LIBAVCODEC_VERSION_MAJOR),
    "libavformat.so." FACET_STRING(LIBAVFORMAT_VERSION_MAJOR),
};
enum { library_count = sizeof libraries / sizeof libraries[0] };

static void load(void) {
    void *handles[library_count];
    for (int i = 0; i < library_count; i++) {
        handles[i] = dlopen(libraries[i], RTLD_NOW | RTLD_LOCAL);
        if (!handles[i]) {
            const char *why = dlerror();
            snprintf(failure, sizeof failure, "%s", why ? why : libraries[i]);
            return;
        }
    }
#define FACET_FFMPEG_RESOLVE(name)                                                          \
    for (int i = 0; i < library_count && !api.name; i++) {                                 \
        api.name = (__typeof__(name) *)dlsym(handles[i], #name);                            \
    }                                                                                       \
    if (!api.name) {                                                                        \
        snprintf(failure, sizeof failure, "no function %s in %s", #name, libraries[library_count - 1]); \
        return;                                                                             \
    }
    FACET_FFMPEG_FUNCTIONS(FACET_FFMPEG_RESOLVE)
#undef FACET_FFMPEG_RESOLVE
    loaded = 1;
}

int facet_ffmpeg_load(char *message, int capacity) {
    pthread_once(&once, load);
    if (loaded) return 0;
    if (message && capacity > 0) snprintf(message, (size_t)capacity, "%s", failure);
    return -1;
}

const struct FacetFFmpegAPI *facet_ffmpeg_api(void) { return &api; }
