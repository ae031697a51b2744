#pragma once
// The archives mpipool uses on the wire. Output is Boost's binary_oarchive without
// a header. Input is a binary archive that checks every length it reads against the
// bytes that remain, so a corrupt or hostile length becomes a serialization_error
// instead of a multi-gigabyte allocation.

#include <cstddef>
#include <span>
#include <streambuf>
#include <string>

#include <boost/archive/binary_iarchive_impl.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/archive/detail/register_archive.hpp>
#include <boost/serialization/array_wrapper.hpp>
#include <boost/serialization/collection_size_type.hpp>

#include "mpipool/detail/byte_buffer.hpp"

namespace mpipool::detail {

inline constexpr unsigned archive_flags = boost::archive::no_header | boost::archive::no_codecvt;

/// Appends whatever is written to a byte_buffer.
class buffer_sink : public std::streambuf {
 public:
  explicit buffer_sink(byte_buffer& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.append(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      char ch = traits_type::to_char_type(c);
      out_.append(&ch, 1);
    }
    return traits_type::not_eof(c);
  }

 private:
  byte_buffer& out_;
};

/// Reads from a span of bytes without copying it.
class span_source : public std::streambuf {
 public:
  explicit span_source(std::span<const std::byte> bytes) {
    // std::streambuf wants mutable pointers but never writes through the get area.
    auto* begin = const_cast<char*>(reinterpret_cast<const char*>(bytes.data()));
    setg(begin, begin, begin + bytes.size());
  }
  [[nodiscard]] std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

/// Binary input archive with length checks (see the file comment).
class checked_iarchive
    : public boost::archive::binary_iarchive_impl<checked_iarchive, char, std::char_traits<char>> {
  using base = boost::archive::binary_iarchive_impl<checked_iarchive, char, std::char_traits<char>>;
  friend class boost::archive::detail::interface_iarchive<checked_iarchive>;
  friend class boost::archive::basic_binary_iarchive<checked_iarchive>;
  friend class boost::archive::load_access;

 public:
  explicit checked_iarchive(span_source& source) : base(source, archive_flags), source_(source) {
    init(archive_flags);
  }

  // Primitive loads come here first; strings get a length check.
  using base::load;
  void load(std::string& text);

 protected:
  template <class T>
  void load_override(T& value) {
    base::load_override(value);
  }
  void load_override(boost::serialization::collection_size_type& count);

 private:
  void require(std::size_t claimed, const char* what) const;
  span_source& source_;
};

}  // namespace mpipool::detail

BOOST_SERIALIZATION_REGISTER_ARCHIVE(mpipool::detail::checked_iarchive)
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(mpipool::detail::checked_iarchive)
