#include "common/metrics.h"

#include <array>
#include <cstdio>

namespace depositbot {
namespace {

constexpr std::array<double, 10> kBounds = {0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

std::string Series(const std::string& name, const std::string& labels) {
  return labels.empty() ? name : name + "{" + labels + "}";
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

void Metrics::Add(const std::string& name, const std::string& labels, int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_[name][labels] += n;
}

void Metrics::Set(const std::string& name, int64_t value, const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_[name][labels] = value;
}

void Metrics::Observe(const std::string& name, double seconds, const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& h = histograms_[name][labels];
  if (h.buckets.empty()) h.buckets.assign(kBounds.size(), 0);
  for (size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::Describe(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  help_[name] = {type, help};
}

void Metrics::AddCollector(std::function<void(Metrics&)> collector) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Metrics::Render() {
  std::vector<std::function<void(Metrics&)>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collectors = collectors_;
  }
  for (const auto& c : collectors) c(*this);
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  auto header = [&](const std::string& name, const char* fallback_type) {
    auto it = help_.find(name);
    if (it != help_.end()) out += "# HELP " + name + " " + it->second.second + "\n";
    out += "# TYPE " + name + " " + (it != help_.end() ? it->second.first : fallback_type) + "\n";
  };
  for (const auto& [name, series] : counters_) {
    header(name, "counter");
    for (const auto& [labels, v] : series)
      out += Series(name, labels) + " " + std::to_string(v) + "\n";
  }
  for (const auto& [name, series] : gauges_) {
    header(name, "gauge");
    for (const auto& [labels, v] : series)
      out += Series(name, labels) + " " + std::to_string(v) + "\n";
  }
  for (const auto& [name, series] : histograms_) {
    header(name, "histogram");
    for (const auto& [labels, h] : series) {
      std::string sep = labels.empty() ? "" : labels + ",";
      for (size_t i = 0; i < kBounds.size(); ++i) {
        out += name + "_bucket{" + sep + "le=\"" + Number(kBounds[i]) + "\"} " +
               std::to_string(h.buckets[i]) + "\n";
      }
      out += name + "_bucket{" + sep + "le=\"+Inf\"} " + std::to_string(h.count) + "\n";
      out += Series(name + "_sum", labels) + " " + Number(h.sum) + "\n";
      out += Series(name + "_count", labels) + " " + std::to_string(h.count) + "\n";
    }
  }
  return out;
}

}  // namespace depositbot
