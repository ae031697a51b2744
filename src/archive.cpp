// Instantiates the checked input archive (Boost's archive templates are compiled
// once, here, like Boost's own binary_iarchive) and adds its length checks.

#include "mpipool/detail/archive.hpp"

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>

#include <exception>
#include <new>
#include <stdexcept>

#include "mpipool/detail/codec.hpp"
#include "mpipool/errors.hpp"

namespace boost::archive {
template class detail::archive_serializer_map<mpipool::detail::checked_iarchive>;
template class basic_binary_iprimitive<mpipool::detail::checked_iarchive, char, std::char_traits<char>>;
template class basic_binary_iarchive<mpipool::detail::checked_iarchive>;
template class binary_iarchive_impl<mpipool::detail::checked_iarchive, char, std::char_traits<char>>;
}  // namespace boost::archive

namespace mpipool::detail {

namespace {

[[noreturn]] void throw_oversized(const char* what, std::uint64_t claimed, std::size_t remaining) {
  throw serialization_error(std::string("corrupt or oversized ") + what + " in payload: it claims " +
                            std::to_string(claimed) + " elements but only " + std::to_string(remaining) +
                            " bytes remain");
}

}  // namespace

void checked_iarchive::require(std::size_t claimed, const char* what) const {
  if (claimed > source_.remaining()) throw_oversized(what, claimed, source_.remaining());
}

void throw_oversized_collection(std::uint64_t count, std::size_t remaining) {
  throw_oversized("collection size", count, remaining);
}

void checked_iarchive::load(std::string& text) {
  std::size_t length = 0;
  load_binary(&length, sizeof(length));
  require(length, "string length");
  text.resize(length);
  if (length != 0) load_binary(text.data(), length);
}

void checked_iarchive::load_override(boost::serialization::collection_size_type& count) {
  base::load_override(count);
  require(count, "collection size");
}

void rethrow_as_serialization_error(const char* action, const std::string& type) {
  try {
    throw;
  } catch (const serialization_error&) {
    throw;
  } catch (const boost::archive::archive_exception& e) {
    throw serialization_error(std::string("cannot ") + action + " " + type + ": " + e.what() +
                              " (truncated or corrupt payload, or a type Boost.Serialization does not support)");
  } catch (const std::bad_alloc&) {
    throw serialization_error(std::string("cannot ") + action + " " + type + ": out of memory");
  } catch (const std::exception& e) {
    throw serialization_error(std::string("cannot ") + action + " " + type + ": " + e.what());
  } catch (...) {
    throw serialization_error(std::string("cannot ") + action + " " + type + ": a non-standard exception");
  }
}

}  // namespace mpipool::detail
