#include "CStreamKitShims.h"
/* Header-only shims; this file exists because SwiftPM C targets need a source file. */
