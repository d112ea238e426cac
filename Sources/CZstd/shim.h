#ifndef STREAMKIT_CZSTD_SHIM_H
#define STREAMKIT_CZSTD_SHIM_H
#include <zstd.h>
#endif
