// The kmview engine: the same dispatcher and plugins over /dev/kmview (kernel/kmview.c). One
// kernel crossing per decision; memory through the module; scratch areas made by the module.
#pragma once

#include <memory>
#include <string>

#include "core/engine.h"

namespace umview {

// /dev/kmview opened, if it speaks our ABI (the descriptor, to give to MakeKmviewEngine); else -1
// with *why (one line).
int OpenKmview(std::string* why);

// An engine over the descriptor of OpenKmview, which it owns from now on. One open per run: each
// open file is a tracer to the module, and the first one registers its system call probe.
std::unique_ptr<Engine> MakeKmviewEngine(int dev);

}  // namespace umview
