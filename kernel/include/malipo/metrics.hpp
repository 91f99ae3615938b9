// Prometheus-style metrics lent to plugins; exposed on GET /metrics.
// Names are prefixed by the caller (e.g. "malipo_hubtel_sessions_started_total").
// Label sets are small and fixed (never user input). Thread-safety: safe from any thread.
#pragma once

#include <functional>
#include <map>
#include <string>

namespace malipo {

using Labels = std::map<std::string, std::string>;

class Metrics {
 public:
  virtual ~Metrics() = default;
  virtual void increment(const std::string& name, const Labels& labels = {}, double by = 1) = 0;
  virtual void setGauge(const std::string& name, const Labels& labels, double value) = 0;
  // Observes a duration in seconds into a histogram with the kernel's latency buckets.
  virtual void observe(const std::string& name, const Labels& labels, double seconds) = 0;
  virtual void describe(const std::string& name, const std::string& help,
                        const std::string& type) = 0;
  // Runs `collector` before each rendering of /metrics, to set gauges that are read on
  // demand (rows in a state, a queue's depth). It runs on the thread serving the scrape:
  // keep it to a quick query. One that throws leaves its gauges at their last values.
  virtual void addCollector(std::function<void(Metrics&)> collector) = 0;
};

}  // namespace malipo
