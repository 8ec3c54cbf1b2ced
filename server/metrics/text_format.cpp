#include "server/metrics/text_format.hpp"

#include <charconv>
#include <cmath>

namespace ringftpd::server::metrics {
namespace {

// Help text escapes only backslash and line feed; label values also the quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string label(std::string_view name, std::string_view value) {
  std::string out(name);
  out += "=\"";
  append_escaped(out, value, true);
  out += '"';
  return out;
}

std::string join_labels(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string out(a);
  out += ',';
  out += b;
  return out;
}

std::string format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Plain decimals where they stay short: Prometheus 2.x compares le="..."
  // as text, and le="0.0005" is what people write in a query, not "5e-04".
  const double mag = std::fabs(v);
  const bool fixed = mag == 0 || (mag >= 1e-6 && mag < 1e15);
  char buf[64];
  const auto [end, ec] = fixed ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                               : std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : std::string("NaN");
}

void TextWriter::family(std::string_view name, std::string_view help, MetricType type) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void TextWriter::series(std::string_view name, std::string_view suffix, std::string_view labels) {
  out_ += name;
  out_ += suffix;
  if (!labels.empty()) {
    out_ += '{';
    out_ += labels;
    out_ += '}';
  }
  out_ += ' ';
}

void TextWriter::sample(std::string_view name, std::string_view labels, std::uint64_t value) {
  series(name, "", labels);
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out_.append(buf, ec == std::errc{} ? end : buf);
  out_ += '\n';
}

void TextWriter::sample(std::string_view name, std::string_view labels, double value) {
  series(name, "", labels);
  out_ += format_double(value);
  out_ += '\n';
}

void TextWriter::histogram(std::string_view name, std::string_view labels,
                           std::span<const double> bounds, std::span<const std::uint64_t> cells,
                           double sum) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    cumulative += cells[i];
    const std::string le = i < bounds.size() ? format_double(bounds[i]) : std::string("+Inf");
    series(name, "_bucket", join_labels(labels, label("le", le)));
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  series(name, "_sum", labels);
  out_ += format_double(sum);
  out_ += '\n';
  series(name, "_count", labels);
  out_ += std::to_string(cumulative);
  out_ += '\n';
}

}  // namespace ringftpd::server::metrics
