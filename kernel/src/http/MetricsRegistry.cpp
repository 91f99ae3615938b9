#include "http/MetricsRegistry.hpp"

#include <atomic>
#include <sstream>

namespace malipo {

constexpr std::array<double, 12> MetricsRegistry::kBuckets;

namespace {
// A label value in the exposition format: \\, \" and \n escaped.
void appendEscaped(std::string& out, const std::string& v) {
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
}
}  // namespace

MetricsRegistry::MetricsRegistry()
    : id_([] {
        static std::atomic<std::uint64_t> next{0};
        return ++next;
      }()) {}

std::string MetricsRegistry::labelText(const Labels& labels, const std::string& extraKey,
                                       const std::string& extraValue) {
  if (labels.empty() && extraKey.empty()) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"";
    appendEscaped(out, v);
    out += "\"";
  };
  for (const auto& kv : labels) add(kv.first, kv.second);
  if (!extraKey.empty()) add(extraKey, extraValue);
  return out + "}";
}

void MetricsRegistry::increment(const std::string& name, const Labels& labels, double by) {
  std::string key = labelText(labels);
  std::lock_guard<std::mutex> lock(mutex_);
  counters_[name][key] += by;
}

void MetricsRegistry::recordRequest(const std::string& route, const std::string& method, int status,
                                    double seconds) {
  static std::atomic<unsigned> nextShard{0};
  thread_local unsigned shardIndex =
      nextShard.fetch_add(1, std::memory_order_relaxed) % kRequestShards;
  RequestShard& shard = requestShards_[shardIndex];
  // A keep-alive client mostly repeats one request: each thread remembers where its last
  // series live (entries are never erased, so the pointers stay valid) and skips the key.
  struct Last {
    std::uint64_t registry = 0;
    std::string route, method;
    int status = 0;
    double* count = nullptr;
    Histogram* latency = nullptr;
  };
  thread_local Last last;
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (last.registry != id_ || last.status != status || last.route != route ||
      last.method != method) {
    // Labels in the order labelText() sorts them: method, route, status.
    std::string key = "{method=\"";
    appendEscaped(key, method);
    key += "\",route=\"";
    appendEscaped(key, route);
    key += "\",status=\"" + std::to_string(status) + "\"}";
    last.count = &shard.counts[key];
    last.latency = &shard.latency[route];
    last.registry = id_;
    last.route = route;
    last.method = method;
    last.status = status;
  }
  *last.count += 1;
  Histogram& h = *last.latency;
  for (std::size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++h.counts[i];
  ++h.count;
  h.sum += seconds;
}

void MetricsRegistry::setGauge(const std::string& name, const Labels& labels, double value) {
  std::string key = labelText(labels);
  std::lock_guard<std::mutex> lock(mutex_);
  gauges_[name][key] = value;
}

void MetricsRegistry::observe(const std::string& name, const Labels& labels, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  Histogram& h = histograms_[name][labels];
  for (std::size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++h.counts[i];
  ++h.count;
  h.sum += seconds;
}

void MetricsRegistry::describe(const std::string& name, const std::string& help,
                               const std::string& type) {
  std::lock_guard<std::mutex> lock(mutex_);
  help_[name] = {help, type};
}

void MetricsRegistry::addCollector(std::function<void(Metrics&)> collector) {
  std::lock_guard<std::mutex> lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::render() {
  std::vector<std::function<void(Metrics&)>> collectors;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    collectors = collectors_;
  }
  for (auto& c : collectors) {
    try {
      c(*this);
    } catch (...) {
      // A collector that cannot read (database down) leaves its last values.
    }
  }
  // The hot-path series are added up over the shards, then rendered like the rest.
  std::map<std::string, double> requestCounts;
  std::map<std::string, Histogram> requestLatency;
  for (auto& shard : requestShards_) {
    std::lock_guard<std::mutex> lock(shard.mutex);
    for (const auto& [k, v] : shard.counts) requestCounts[k] += v;
    for (const auto& [route, h] : shard.latency) {
      Histogram& sum = requestLatency[route];
      for (std::size_t i = 0; i < kBuckets.size(); ++i) sum.counts[i] += h.counts[i];
      sum.count += h.count;
      sum.sum += h.sum;
    }
  }
  std::ostringstream out;
  out.precision(15);  // byte counts and epoch seconds exactly, not as 2.59768e+07
  std::lock_guard<std::mutex> lock(mutex_);
  if (!requestCounts.empty()) {
    auto& c = counters_["malipo_http_requests_total"];
    for (const auto& [k, v] : requestCounts) c[k] = v;
  }
  if (!requestLatency.empty()) {
    auto& hs = histograms_["malipo_http_request_duration_seconds"];
    for (const auto& [route, h] : requestLatency) hs[Labels{{"route", route}}] = h;
  }
  auto header = [&](const std::string& name, const char* dflt) {
    auto it = help_.find(name);
    out << "# HELP " << name << " " << (it != help_.end() ? it->second.first : name) << "\n";
    out << "# TYPE " << name << " " << (it != help_.end() ? it->second.second : dflt) << "\n";
  };
  for (const auto& [name, series] : counters_) {
    header(name, "counter");
    for (const auto& [labels, v] : series) out << name << labels << " " << v << "\n";
  }
  for (const auto& [name, series] : gauges_) {
    header(name, "gauge");
    for (const auto& [labels, v] : series) out << name << labels << " " << v << "\n";
  }
  for (const auto& [name, series] : histograms_) {
    header(name, "histogram");
    for (const auto& [labels, h] : series) {
      for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        std::ostringstream le;
        le << kBuckets[i];
        out << name << "_bucket" << labelText(labels, "le", le.str()) << " " << h.counts[i] << "\n";
      }
      out << name << "_bucket" << labelText(labels, "le", "+Inf") << " " << h.count << "\n";
      out << name << "_sum" << labelText(labels) << " " << h.sum << "\n";
      out << name << "_count" << labelText(labels) << " " << h.count << "\n";
    }
  }
  return out.str();
}

}  // namespace malipo
