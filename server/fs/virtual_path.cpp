#include "server/fs/virtual_path.hpp"

namespace ringftpd::server::fs {
namespace {

constexpr int kReplyArgumentSyntaxError = 501;
constexpr int kReplyFileNameNotAllowed = 553;

ResolvedPath failure(PathError error) {
  ResolvedPath r;
  r.ok = false;
  r.error = error;
  return r;
}

// NUL, CR and LF; the UTF-8 check is separate so the error says which rule failed.
PathError check_bytes(std::string_view s) noexcept {
  for (char c : s) {
    if (c == '\0' || c == '\r' || c == '\n') return PathError::InvalidName;
  }
  return is_valid_utf8(s) ? PathError::None : PathError::InvalidEncoding;
}

// Appends the components of `s` to the normalized path `out` ("" stands for "/" while
// building). Returns NameTooLong for an over-long component, else None.
PathError append_components(std::string& out, std::string_view s) {
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t slash = s.find('/', pos);
    const std::size_t end = slash == std::string_view::npos ? s.size() : slash;
    const std::string_view comp = s.substr(pos, end - pos);
    pos = end + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp.size() > kMaxComponentBytes) return PathError::NameTooLong;
    if (comp == "..") {
      const std::size_t last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);  // at the root, stays at the root
      continue;
    }
    out.push_back('/');
    out.append(comp);
  }
  return PathError::None;
}

}  // namespace

int reply_code(PathError error) noexcept {
  switch (error) {
    case PathError::None:
      return 0;
    case PathError::InvalidName:
      return kReplyArgumentSyntaxError;
    case PathError::InvalidEncoding:
    case PathError::NameTooLong:
      return kReplyFileNameNotAllowed;
  }
  return kReplyArgumentSyntaxError;
}

std::string_view ResolvedPath::relative() const noexcept {
  return relative_of(path);
}

const char* ResolvedPath::relative_c_str() const noexcept {
  return path.size() <= 1 ? "." : path.c_str() + 1;
}

ResolvedPath resolve(std::string_view cwd, std::string_view argument) {
  if (const PathError e = check_bytes(argument); e != PathError::None) return failure(e);
  const bool absolute = !argument.empty() && argument.front() == '/';
  if (!absolute) {
    // cwd came from resolve(), but a corrupt one must not become an escape hatch.
    if (const PathError e = check_bytes(cwd); e != PathError::None) return failure(e);
  }

  ResolvedPath r;
  r.path.reserve((absolute ? 0 : cwd.size()) + argument.size() + 1);
  if (!absolute) {
    if (const PathError e = append_components(r.path, cwd); e != PathError::None) {
      return failure(e);
    }
  }
  if (const PathError e = append_components(r.path, argument); e != PathError::None) {
    return failure(e);
  }
  if (r.path.empty()) r.path.push_back('/');  // (not = "/": g++ 12 -Wrestrict false positive)
  if (r.path.size() > kMaxPathBytes) return failure(PathError::NameTooLong);
  r.ok = true;
  r.error = PathError::None;
  return r;
}

std::string_view relative_of(std::string_view path) noexcept {
  if (path.size() <= 1) return ".";
  return path.substr(1);
}

std::string join(std::string_view dir, std::string_view name) {
  std::string out;
  out.reserve(dir.size() + name.size() + 1);
  out.append(dir);
  if (out.empty() || out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

std::string_view basename(std::string_view path) noexcept {
  if (path.size() <= 1) return "/";
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view parent(std::string_view path) noexcept {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

std::string quote_for_257(std::string_view path) {
  std::string out;
  out.reserve(path.size() + 2);
  out.push_back('"');
  for (char c : path) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

bool is_valid_utf8(std::string_view bytes) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char b0 = p[i];
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    // RFC 3629 §4: the first continuation byte's range depends on the lead byte; this
    // is what excludes overlong forms, surrogates and code points above U+10FFFF.
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
    } else if (b0 == 0xE0) {
      len = 3;
      lo = 0xA0;
    } else if (b0 >= 0xE1 && b0 <= 0xEC) {
      len = 3;
    } else if (b0 == 0xED) {
      len = 3;
      hi = 0x9F;  // U+D800..U+DFFF are surrogates
    } else if (b0 >= 0xEE && b0 <= 0xEF) {
      len = 3;
    } else if (b0 == 0xF0) {
      len = 4;
      lo = 0x90;
    } else if (b0 >= 0xF1 && b0 <= 0xF3) {
      len = 4;
    } else if (b0 == 0xF4) {
      len = 4;
      hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return false;  // 0x80..0xC1 (stray continuation, overlong 2-byte) or 0xF5..0xFF
    }
    if (n - i < len) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace ringftpd::server::fs
