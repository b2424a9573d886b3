// Loads darwin's llama.cpp engine at run time, so that darwin builds and runs without llama.cpp.
#include "darwin_llama.h"

#include <dlfcn.h>
#include <stdio.h>

const dl_api *dl_load(const char *path, char *error, size_t error_len) {
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(error, error_len, "%s", dlerror());
        return NULL;
    }
    const dl_api *(*entry)(void) = (const dl_api *(*)(void))dlsym(handle, "darwin_llama_api");
    if (!entry) {
        snprintf(error, error_len, "%s: no darwin_llama_api symbol", path);
        return NULL;
    }
    const dl_api *api = entry();
    if (!api || api->abi_version != DL_ABI_VERSION) {
        snprintf(error, error_len, "%s: engine interface %d, darwin needs %d (run scripts/build-llama)", path,
                 api ? api->abi_version : -1, DL_ABI_VERSION);
        return NULL;
    }
    return api;
}
