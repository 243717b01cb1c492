// Ledger instances: who this process is in a shared ledger, and whether another instance is
// provably gone. An instance is alive while its lease lasts (heartbeats renew it); besides, an
// instance of this machine (same boot, same pid namespace) is gone as soon as its process is:
// a restart after a crash settles the dead process's records at once instead of after the
// lease. A process that merely looks stuck is never judged gone before its lease ends.
#pragma once

#include <string>

#include "service/ledger_store.h"

namespace mx {

// This process as a new instance: a fresh random id, host, node, pid and its start time.
// worker is the host name until the server knows its port; times are left 0.
LedgerInstance this_process_instance();

// True when `other` ran on this machine (same node) and its process no longer exists (or is a
// zombie, or its pid now belongs to a process started later). False when unsure.
bool process_is_gone(const LedgerInstance& other, const LedgerInstance& self);

}  // namespace mx
