// Lexical path operations used for routing: they live in modules/umview/paths.h, shared with
// plugins.
#pragma once

#include "umview/paths.h"
