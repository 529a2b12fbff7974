// The kmview engine: the same dispatcher and plugins over /dev/kmview (kernel/kmview.c). One
// kernel crossing per decision; memory through the module; scratch areas made by the module.
#pragma once

#include <memory>
#include <string>

#include "core/engine.h"

namespace umview {

// True if /dev/kmview can be opened and speaks our ABI; else false with *why (one line).
bool KmviewUsable(std::string* why);

std::unique_ptr<Engine> MakeKmviewEngine();

}  // namespace umview
