// In-process metrics, rendered in the Prometheus text format on GET /metrics.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "malipo/metrics.hpp"

namespace malipo {

class MetricsRegistry final : public Metrics {
 public:
  MetricsRegistry();
  void increment(const std::string& name, const Labels& labels = {}, double by = 1) override;
  void setGauge(const std::string& name, const Labels& labels, double value) override;
  void observe(const std::string& name, const Labels& labels, double seconds) override;
  void describe(const std::string& name, const std::string& help, const std::string& type) override;
  // Counter + histogram of one finished request under one lock (the hot path).
  void recordRequest(const std::string& route, const std::string& method, int status,
                     double seconds);
  // Called before each render to refresh gauges computed elsewhere (job states, plugins).
  void addCollector(std::function<void(Metrics&)> collector) override;
  std::string render();

  static constexpr std::array<double, 12> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  static std::string labelText(const Labels& labels, const std::string& extraKey = {},
                               const std::string& extraValue = {});
  std::mutex mutex_;
  std::map<std::string, std::pair<std::string, std::string>> help_;  // name → (help, type)
  std::map<std::string, std::map<std::string, double>> counters_, gauges_;
  std::map<std::string, std::map<Labels, Histogram>> histograms_;
  // The per-request series, kept apart so the hot path builds no label maps and takes no
  // shared lock: each request thread writes to one of a few shards (counters keyed by their
  // rendered labels, latency histograms by route); render() adds the shards up.
  struct RequestShard {
    std::mutex mutex;
    std::unordered_map<std::string, double> counts;
    std::unordered_map<std::string, Histogram> latency;
  };
  static constexpr std::size_t kRequestShards = 8;
  std::array<RequestShard, kRequestShards> requestShards_;
  const std::uint64_t id_;  // tells this registry's per-thread cache entries from another's
  std::vector<std::function<void(Metrics&)>> collectors_;
};

}  // namespace malipo
