#pragma once

#include "db/reconciler.h"
#include "registrar/registrar.h"

namespace depositbot {

// What the Reconciler compares orders with: the names `registrar`'s account holds, fetched with
// Registrar::List() each time the function is called (db/ never calls a registrar itself). The
// demo registrar's list is only what this process registered in memory, so with it, and when
// the list fails, the names are left out and the reason is given instead. `registrar` must
// outlive the function.
RegistrarDomainsFn RegistrarDomainsOf(Registrar& registrar);

}  // namespace depositbot
