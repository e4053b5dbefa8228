#include "app/registrar_domains.h"

#include "common/log.h"

namespace depositbot {

RegistrarDomainsFn RegistrarDomainsOf(Registrar& registrar) {
  return [&registrar]() -> RegistrarDomains {
    if (registrar.IsDemo()) {
      return {std::nullopt,
              "the demo registrar registers nothing real, so its list proves nothing"};
    }
    auto list = registrar.List();
    if (!list) {
      Log(LogLevel::kWarn, "reconcile.registrar_list_failed",
          {{"registrar", registrar.Name()}, {"error", list.error().message}});
      return {std::nullopt,
              "the " + registrar.Name() + " domain list failed (" + list.error().message + ")"};
    }
    std::vector<std::string> names;
    names.reserve(list->size());
    for (const DomainInfo& d : *list) names.push_back(d.domain);
    return {std::move(names), ""};
  };
}

}  // namespace depositbot
