#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace depositbot {

// Counters and latency histograms exposed as Prometheus text on /metrics.
// Thread-safe; one Metrics is shared by the whole process (passed, never global).
class Metrics {
 public:
  // Adds `n` to the counter `name` with `labels` ("tool=\"check_domain\",outcome=\"ok\"").
  void Add(const std::string& name, const std::string& labels = "", int64_t n = 1);
  // Records one observation of `seconds` in histogram `name`.
  void Observe(const std::string& name, double seconds, const std::string& labels = "");
  // Sets a gauge.
  void Set(const std::string& name, int64_t value, const std::string& labels = "");
  // Declares help text (printed as # HELP) and type for a metric family.
  void Describe(const std::string& name, const std::string& type, const std::string& help);
  // Runs before each Render, to refresh gauges owned elsewhere (e.g. the
  // repository's conflict counters).
  void AddCollector(std::function<void(Metrics&)> collector);
  // The Prometheus text exposition format, version 0.0.4. Runs the collectors first.
  std::string Render();

 private:
  struct Histogram {
    std::vector<int64_t> buckets;  // cumulative counts per bound in kBounds
    int64_t count = 0;
    double sum = 0;
  };
  std::mutex mu_;
  std::vector<std::function<void(Metrics&)>> collectors_;
  std::map<std::string, std::pair<std::string, std::string>> help_;  // name -> type, help
  std::map<std::string, std::map<std::string, int64_t>> counters_;   // name -> labels -> value
  std::map<std::string, std::map<std::string, int64_t>> gauges_;
  std::map<std::string, std::map<std::string, Histogram>> histograms_;
};

}  // namespace depositbot
